// ../shared beside the checkout, as the benchmarks resolve it.
export { SHARED_DIR, SHARED_SUBSET_DIR, SHARED_MODELS_DIR } from "../../bench/shared.js";
