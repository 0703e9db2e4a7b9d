import type { Command } from "commander";
import { register as importCommand } from "./import.js";
import { register as infoCommand } from "./info.js";
import { register as exportCommand } from "./export.js";
import { register as splitCommand } from "./split.js";

/** Each command module exports one `register(program)`; the order here is the order in --help. */
export const commands: ((program: Command) => void)[] = [importCommand, infoCommand, exportCommand, splitCommand];
import { register as registerSynth } from "./synth.js";
commands.push(registerSynth);
import { register as registerCollect } from "./collect.js";
commands.push(registerCollect);
import { register as registerEmbed } from "./embed.js";
commands.push(registerEmbed);
import { register as registerTrain } from "./train.js";
import { register as registerRoute } from "./route.js";
import { register as registerCalibrate } from "./calibrate.js";
commands.push(registerTrain, registerRoute, registerCalibrate);
import { register as registerReprice } from "./reprice.js";
commands.push(registerReprice);
import { register as registerEval } from "./eval.js";
commands.push(registerEval);
import { register as registerRun } from "./run.js";
commands.push(registerRun);
import { register as registerServe } from "./serve.js";
commands.push(registerServe);
