import type { Command } from "commander";
import { register as importCommand } from "./import.js";
import { register as infoCommand } from "./info.js";
import { register as splitCommand } from "./split.js";

/** Each command module exports one `register(program)`; the order here is the order in --help. */
export const commands: ((program: Command) => void)[] = [importCommand, infoCommand, splitCommand];
import { register as registerEmbed } from "./embed.js";
commands.push(registerEmbed);
