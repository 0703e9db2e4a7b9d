/** Option strings parsed at the CLI edge, with one error line naming the option. */
import { InputError } from "../util/errors.js";

/** An integer option >= `min` ("--folds", "--workers"). */
export function integerOption(value: string, field: string, min: number): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) throw new InputError(`expected an integer >= ${min}, got "${value}"`, { field });
  return n;
}
