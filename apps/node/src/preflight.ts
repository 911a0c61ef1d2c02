import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { type ConfigProblem, folderWriteProblem, jsonPath, looseField, looseText } from "@sluice/daemon";

/**
 * What `run` checks before it opens anything, and `check-config` reports: `incoming` exists (unless
 * `createIncoming`: a mistyped folder would otherwise be created and watched forever, empty) and can be
 * written (replayed files are deleted or moved out of it), and `failed`, `stateDir` and the after-move
 * folder can be written or created. Reads the config loosely: it also gets the raw JSON of a config the
 * schema refused.
 */
export function checkNodeConfig(config: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const folder = (path: PropertyKey[], value: unknown) => {
    const dir = looseText(value);
    if (dir === undefined || !isAbsolute(dir)) return; // the schema says what is wrong with it
    const why = folderWriteProblem(dir);
    if (why !== null) problems.push({ path: jsonPath(path), message: `${dir}: ${why}` });
  };
  const incoming = looseText(looseField(config, "incoming"));
  if (incoming !== undefined && isAbsolute(incoming)) {
    if (looseField(config, "createIncoming") !== true && !exists(incoming)) {
      problems.push({
        path: "$.incoming",
        message: `${incoming} does not exist: create it (the master delivers there), or set "createIncoming": true`,
      });
    } else folder(["incoming"], incoming);
  }
  folder(["failed"], looseField(config, "failed"));
  folder(["stateDir"], looseField(config, "stateDir") ?? "/var/lib/sluice-node");
  const after = looseField(config, "after");
  if (looseField(after, "action") === "move") folder(["after", "path"], looseField(after, "path"));
  return problems;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
