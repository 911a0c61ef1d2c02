/** A JSON Schema node, as zod's toJSONSchema writes them (the parts the reference reads). */
interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

/** One row of a config reference: a field's path, type, default and meaning. */
export interface ReferenceRow {
  path: string;
  type: string;
  required: boolean;
  default: string;
  description: string;
}

function typeOf(node: SchemaNode): string {
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum) return node.enum.map((v) => JSON.stringify(v)).join(" | ");
  const variants = node.oneOf ?? node.anyOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(" | ");
  const type = Array.isArray(node.type) ? node.type.join(" | ") : (node.type ?? "any");
  const bounds: string[] = [];
  if (node.exclusiveMinimum !== undefined) bounds.push(`> ${node.exclusiveMinimum}`);
  if (node.minimum !== undefined) bounds.push(`≥ ${node.minimum}`);
  if (node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${node.maximum}`);
  if (type === "array" && node.items) return `${typeOf(node.items)}[]`;
  return bounds.length ? `${type} (${bounds.join(", ")})` : type;
}

/** Every field of a config JSON Schema, depth first, discriminated unions split by their tag. */
export function referenceRows(schema: object): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const visit = (node: SchemaNode, path: string, required: boolean, note = ""): void => {
    const objects = (node.items ?? node).oneOf?.filter((v) => v.properties) ?? [];
    const target = node.items ?? node;
    if (path !== "") {
      const simple = !target.properties && objects.length === 0;
      rows.push({
        path,
        type: simple || node.items ? typeOf(node) : "object",
        required,
        default: node.default === undefined ? "" : JSON.stringify(node.default),
        description: `${note}${node.description ?? ""}`,
      });
    }
    const child = node.items ? `${path}[]` : path;
    if (target.properties) {
      for (const [key, value] of Object.entries(target.properties)) {
        if (key === "$schema") continue;
        visit(value, child ? `${child}.${key}` : key, target.required?.includes(key) ?? false);
      }
    }
    const tagKey =
      objects.length > 0
        ? Object.entries(objects[0]!.properties!).find(([, v]) => v.const !== undefined)?.[0]
        : undefined;
    if (tagKey !== undefined) {
      const values = objects.map((v) => JSON.stringify(v.properties![tagKey]!.const));
      rows.push({
        path: `${child}.${tagKey}`,
        type: values.join(" | "),
        required: true,
        default: "",
        description: "Which kind; the fields below say which kind they belong to.",
      });
    }
    for (const variant of objects) {
      const tag = Object.entries(variant.properties!).find(([, v]) => v.const !== undefined);
      for (const [key, value] of Object.entries(variant.properties!)) {
        if (tag && key === tag[0]) continue;
        const when = tag ? `(${tag[0]} ${JSON.stringify(tag[1].const)}) ` : "";
        visit(value, `${child}.${key}`, variant.required?.includes(key) ?? false, when);
      }
    }
  };
  visit(schema as SchemaNode, "", false);
  return rows;
}

/** The config reference as a Markdown table, for a README. */
export function configReference(schema: object): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const lines = ["| Field | Type | Default | What |", "| --- | --- | --- | --- |"];
  for (const row of referenceRows(schema)) {
    const path = `\`${row.path}\`${row.required ? " (required)" : ""}`;
    const defaultText = row.default ? `\`${cell(row.default)}\`` : "";
    lines.push(`| ${path} | ${cell(row.type)} | ${defaultText} | ${cell(row.description)} |`);
  }
  return `${lines.join("\n")}\n`;
}
