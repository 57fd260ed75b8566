/**
 * The Lua scripts live in `adapters/redis/lua/`, one file per script named by what it does, so
 * each can be read and reviewed on its own. The build copies them beside the compiled modules
 * (`scripts/copy-lua.mjs`); each is read once, when its store is first made.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const loaded = new Map<string, string>();

export function luaScript(name: string): string {
  let source = loaded.get(name);
  if (source === undefined) {
    source = readFileSync(join(__dirname, 'lua', `${name}.lua`), 'utf8');
    loaded.set(name, source);
  }
  return source;
}
