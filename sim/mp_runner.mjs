// Runs Python code under real MicroPython: the WebAssembly build of the npm package
// @micropython/micropython-webassembly-pyscript, loaded into Node.js.
//
//   node mp_runner.mjs MODE CONFIG_JSON
//
// CONFIG_JSON (a JSON object, given inline) holds what every mode needs:
//   micropython  absolute path of the package's micropython.mjs (sim/micropython.py finds it)
//   files        [[source, dest], ...]: files or directories of this machine copied into
//                MicroPython's in-memory file system (directories recursively, without
//                __pycache__); each dest's parent directory goes on sys.path
//   heap         heap size in bytes (default 16 MiB)
// and what its mode needs (below). A mode is one async function of (mp, config) returning
// the process exit code; add a mode by adding it to MODES.
//
// Modes:
//   test  config.modules: module names. Imports each and runs every function named test_*
//         (sorted by name), and prints ONE line of JSON on stdout:
//         {"implementation": ..., "passed": ["module::test", ...],
//          "failed": [{"test": "module::test", "traceback": "..."}]}
//         What the tests print goes to stderr. Exit code 0 (the summary says what failed).
//   run   config.entry: "module" or "module:function"; imports it (and calls the function).
//         What it prints goes to stdout. Exit code 0, or 1 with the traceback on stderr.
//   relay config.entry: "module:function", a function of one string returning a string.
//         Calls it with each line read on stdin and writes what it returns, one line each,
//         on stdout (sim/remote.py: the simulated chair's firmware under MicroPython). What
//         Python prints goes to stderr. Exit code 0 at the end of stdin, or 1 with the
//         traceback on stderr when the function raises.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

function copyInto(mp, source, dest) {
  const stat = fs.statSync(source);
  if (stat.isDirectory()) {
    mkdirs(mp, dest);
    for (const name of fs.readdirSync(source).sort()) {
      if (name === "__pycache__" || name === "node_modules" || name.startsWith(".")) continue;
      copyInto(mp, path.join(source, name), dest + "/" + name);
    }
  } else {
    mkdirs(mp, dest.slice(0, dest.lastIndexOf("/")) || "/");
    mp.FS.writeFile(dest, fs.readFileSync(source));
  }
}

function mkdirs(mp, dir) {
  let sofar = "";
  for (const part of dir.split("/").filter(Boolean)) {
    sofar += "/" + part;
    try {
      mp.FS.mkdir(sofar);
    } catch (e) {
      // already there
    }
  }
}

async function runTests(mp, config) {
  mp.globals.set("_modules_json", JSON.stringify(config.modules));
  mp.runPython(`
import io, json, sys
def _run_tests(modules):
    passed, failed = [], []
    def fail(name, exc):
        buf = io.StringIO()
        sys.print_exception(exc, buf)
        failed.append({"test": name, "traceback": buf.getvalue()})
    for modname in modules:
        try:
            module = __import__(modname)
        except Exception as exc:
            fail(modname + "::<import>", exc)
            continue
        for name in sorted(dir(module)):
            test = getattr(module, name)
            if not name.startswith("test_") or not callable(test):
                continue
            try:
                test()
                passed.append(modname + "::" + name)
            except Exception as exc:
                fail(modname + "::" + name, exc)
    impl = sys.implementation
    return json.dumps({"implementation": "%s %s" % (impl.name, ".".join(
        str(v) for v in impl.version[:3])), "passed": passed, "failed": failed})
_summary = _run_tests(json.loads(_modules_json))
`);
  process.stdout.write(mp.globals.get("_summary") + "\n");
  return 0;
}

async function runEntry(mp, config) {
  const [module, func] = config.entry.split(":");
  try {
    mp.runPython(`import ${module}` + (func ? `\n${module}.${func}()` : ""));
  } catch (e) {
    process.stderr.write(String(e.message || e) + "\n");
    return 1;
  }
  return 0;
}

async function runRelay(mp, config) {
  const [module, func] = config.entry.split(":");
  let handle;
  try {
    mp.runPython(`import ${module}\n_relay_handle = ${module}.${func}`);
    handle = mp.globals.get("_relay_handle");
  } catch (e) {
    process.stderr.write(String(e.message || e) + "\n");
    return 1;
  }
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    let answer;
    try {
      answer = handle(line);
    } catch (e) {
      process.stderr.write(String(e.message || e) + "\n");
      return 1;
    }
    process.stdout.write(answer + "\n");
  }
  return 0;
}

const MODES = { test: runTests, run: runEntry, relay: runRelay };
// Modes whose stdout is theirs alone: what Python prints goes to stderr.
const QUIET_STDOUT = ["test", "relay"];

async function main() {
  const [mode, configText] = process.argv.slice(2);
  const run = MODES[mode];
  if (!run || !configText) {
    process.stderr.write(`usage: node mp_runner.mjs {${Object.keys(MODES).join("|")}} CONFIG_JSON\n`);
    return 2;
  }
  const config = JSON.parse(configText);
  const { loadMicroPython } = await import(pathToFileURL(config.micropython).href);
  const toStderr = (line) => process.stderr.write(line + "\n");
  const toStdout = (line) => process.stdout.write(line + "\n");
  const mp = await loadMicroPython({
    heapsize: config.heap || 16 * 1024 * 1024,
    stdout: QUIET_STDOUT.includes(mode) ? toStderr : toStdout, stderr: toStderr,
  });
  const dirs = [];
  for (const [source, dest] of config.files || []) {
    copyInto(mp, source, dest);
    const dir = dest.slice(0, dest.lastIndexOf("/")) || "/";
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  mp.runPython(`import sys\nfor _d in ${JSON.stringify(dirs)}:\n    sys.path.insert(0, _d)`);
  return await run(mp, config);
}

process.exitCode = await main();
