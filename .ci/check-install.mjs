// The consumer's node_modules: no package may have an install script (a download at install
// time fails on a machine without the internet, and is not ours to run), and the whole tree
// must stay under a size limit in MB. Prints the size and the package count.
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const [dir, limitMb] = [process.argv[2], Number(process.argv[3])];
let bytes = 0;
const scripted = [];
let packages = 0;

function walk(path) {
  for (const name of readdirSync(path)) {
    const p = join(path, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(p);
    else bytes += st.size;
  }
}

function scan(modules) {
  if (!existsSync(modules)) return;
  for (const name of readdirSync(modules)) {
    if (name.startsWith(".")) continue;
    const p = join(modules, name);
    if (name.startsWith("@")) {
      scan(p);
      continue;
    }
    const pkgFile = join(p, "package.json");
    if (!existsSync(pkgFile)) continue;
    packages++;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8"));
    const s = pkg.scripts ?? {};
    for (const hook of ["preinstall", "install", "postinstall"]) if (s[hook]) scripted.push(`${pkg.name}: ${hook}: ${s[hook]}`);
    scan(join(p, "node_modules"));
  }
}

walk(dir);
scan(dir);
const mb = bytes / 2 ** 20;
console.log(`consumer node_modules: ${mb.toFixed(0)} MB, ${packages} packages`);
if (scripted.length) {
  console.error(`install scripts in the dependency tree:\n${scripted.join("\n")}`);
  process.exit(1);
}
if (mb > limitMb) {
  console.error(`node_modules is ${mb.toFixed(0)} MB, over the ${limitMb} MB limit`);
  process.exit(1);
}
