import { libraryBuild } from "../../tsup.library.js";

export default libraryBuild({ entry: ["src/index.ts", "src/run-cli.ts"] });
