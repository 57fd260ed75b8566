// Copies the Lua scripts next to the compiled adapters: `tsc` emits only JavaScript.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'adapters/redis/lua'), join(root, 'dist/adapters/redis/lua'), {
  recursive: true,
});
