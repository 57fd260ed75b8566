// The project's postinstall: gives every npm script Node 24 when the Node running npm is older.
//
// npm puts node_modules/.bin first on the PATH of every script it runs (and of `npx`), so a
// `node` linked there is what the scripts, their `#!/usr/bin/env node` tools (tsc, jest) and
// every process they spawn run on. When the Node running npm is already 24 or later nothing is
// fetched or linked. Otherwise the pinned Node 24 in node-runtime/ is installed from its own
// lockfile (integrity-checked; npm picks the one package built for this platform) and linked.
//
// Run by hand (`node scripts/node-runtime.mjs --print-bin`) it installs the runtime if needed
// and prints the directory holding the `node` to use: .ci/run puts it on the PATH before
// `npm ci`, so npm itself runs on 24 there.

import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runtimeDir = join(root, 'node-runtime');
const platformPackage = `node-${process.platform}-${process.arch}`;
const runtimeBinDir = join(runtimeDir, 'node_modules', platformPackage, 'bin');
const binLink = join(root, 'node_modules', '.bin', 'node');
const printBin = process.argv.includes('--print-bin');

// Under npm, npm_node_execpath is the Node running npm: the system's (this script itself may
// already run on a linked Node 24 from an earlier install).
const systemNode = process.env.npm_node_execpath ?? process.execPath;
const systemVersion = versionOf(systemNode);

if (majorOf(systemVersion) >= REQUIRED_MAJOR) {
  removeOurLink();
  if (printBin) console.log(dirname(systemNode));
  process.exit(0);
}

const pinned = pinnedVersion();
if (pinned === undefined) {
  fail(
    `Node ${systemVersion} runs npm and node-runtime/ has no Node ${REQUIRED_MAJOR} package for ` +
      `${process.platform}-${process.arch}: install Node ${REQUIRED_MAJOR} (nvm, fnm, or the ` +
      `official installer) and run npm again.`,
  );
}
if (installedVersion() !== pinned) installRuntime();
if (installedVersion() !== pinned) {
  fail(`node-runtime/: ${platformPackage}@${pinned} did not install (see npm's output above).`);
}

if (printBin) {
  console.log(runtimeBinDir);
} else {
  linkRuntime();
  console.error(
    `ses-worker: npm runs on Node ${systemVersion}; npm scripts and npx run Node v${pinned} ` +
      `(node-runtime/, linked as node_modules/.bin/node).`,
  );
}

function versionOf(node) {
  if (node === process.execPath) return process.version;
  const result = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'v0.0.0';
}

function majorOf(version) {
  return Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
}

/** The version node-runtime's lockfile pins for this platform, if it has a package for it. */
function pinnedVersion() {
  const lock = JSON.parse(readFileSync(join(runtimeDir, 'package-lock.json'), 'utf8'));
  return lock.packages[`node_modules/${platformPackage}`]?.version;
}

function installedVersion() {
  const manifest = join(runtimeDir, 'node_modules', platformPackage, 'package.json');
  if (!existsSync(manifest) || !existsSync(join(runtimeBinDir, 'node'))) return undefined;
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

function installRuntime() {
  // npm_execpath is npm's own CLI script under npm; `npm` from the PATH when run by hand.
  const npmCli = process.env.npm_execpath;
  const [command, args] = npmCli ? [systemNode, [npmCli]] : ['npm', []];
  const result = spawnSync(
    command,
    [...args, 'ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    { cwd: runtimeDir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (result.status !== 0)
    fail(`node-runtime/: npm ci failed (${result.status ?? result.signal}).`);
}

function linkRuntime() {
  removeOurLink();
  mkdirSync(dirname(binLink), { recursive: true });
  symlinkSync(relative(dirname(binLink), join(runtimeBinDir, 'node')), binLink);
}

/** Removes node_modules/.bin/node only if it is our link (never a package's own bin). */
function removeOurLink() {
  let target;
  try {
    if (!lstatSync(binLink).isSymbolicLink()) return;
    target = readlinkSync(binLink);
  } catch {
    return;
  }
  if (target.includes('node-runtime')) rmSync(binLink);
}

function fail(message) {
  console.error(`ses-worker: ${message}`);
  process.exit(1);
}
