/**
 * The stack router's factory (the router is in stack.ts). Why a file of its own: the stack,
 * unlike other routers, uses the registry at run time (to build and train its members), and
 * registry.ts lists this factory. Were the factory in stack.ts, importing stack.ts before the
 * registry would evaluate registry.ts (stack.ts's import) before the factory it lists exists.
 * This module reads nothing from stack.ts while it is evaluated (only inside the functions), so
 * stack.ts re-exports it first and either file may be imported first. Import stack.ts, not this.
 */
import type { RouterFactory } from "./registry.js";
import { loadStack, saveStack, StackRouter } from "./stack.js";

export const stackFactory: RouterFactory = {
  type: "stack",
  kind: "predictive",
  // Declared statically; members are configurable, so true (the default members read
  // embeddings). A stack of members that read none routes without them (its router.json has no embedder).
  needsEmbeddings: true,
  needsOutcomes: false,
  describe:
    "non-negative blends of member routers' predictions (the prompt's level, and each model's contrast to it), fitted out of fold on the training rows; a blend not beating the best member by a standard error falls back to it (members=task-prior+knn+linear+irt, folds=5, ridge=0.01, validationFraction=0.1)",
  seeded: true,
  create: (pool, params) => new StackRouter(pool, params),
  save: (router, dir) => saveStack(router, dir),
  load: (dir, manifest) => loadStack(dir, manifest),
};
