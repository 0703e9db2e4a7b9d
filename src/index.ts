// The library API: everything the CLI does, importable from TypeScript.
export * from "./data/table.js";
export * from "./data/arrow-io.js";
export * from "./embed/embedder.js";
export * from "./routers/router.js";
export { InputError } from "./util/errors.js";
export * from "./embed/index.js";
