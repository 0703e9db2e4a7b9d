// routekit collect: outcomes from live OpenAI-compatible endpoints (config, prompts, journal, limits, client, scorers, the run).
export * from "./config.js";
export * from "./prompts.js";
export * from "./journal.js";
export * from "./limits.js";
export * from "./client.js";
export * from "./scorers.js";
export * from "./collect.js";
