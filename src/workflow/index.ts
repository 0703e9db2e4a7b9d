// The workflow layer: what the commands (train, eval, run, calibrate, route, serve) call. It
// orchestrates data -> embed -> routers -> evaluate -> report; those layers never import it.
export * from "./splits.js";
export * from "./embed.js";
export * from "./train.js";
export * from "./overlap.js";
export * from "./calibrate.js";
export * from "./evaluate.js";
export * from "./experiment.js";
export * from "./session.js";
export * from "./collect.js";
