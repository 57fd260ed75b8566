/**
 * The built CLI as a user runs it: a separate process, files and standard input, exit codes
 * and output streams. `npm test` builds dist/ first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixtureJson, fixtureNames, FIXTURES_DIR, snsBody } from '../support/fixtures';

const CLI = resolve(__dirname, '..', '..', 'dist', 'worker', 'cli.js');
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$/m;

function run(args: string[], stdin?: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dir: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), 'ses-worker-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('ses-worker --help', () => {
  it('lists the commands and exits 0', () => {
    const { code, stdout } = run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: ses-worker/);
    expect(stdout).toMatch(/^\s+decode \[file\]/m);
  });

  it('answers an unknown command with a usage error (64) on stderr', () => {
    const { code, stdout, stderr } = run(['frobnicate']);
    expect(code).toBe(64);
    expect(stdout).toBe('');
    expect(stderr).toContain("unknown command 'frobnicate'");
  });
});

describe('ses-worker decode', () => {
  it('prints the DomainEvent of an SNS-wrapped bounce as one JSON line, dates as ISO strings', () => {
    const file = write('bounce.json', snsBody(fixtureJson('event-publishing/bounce.json')));
    const { code, stdout, stderr } = run(['decode', file]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.trimEnd().split('\n')).toHaveLength(1);
    const event = JSON.parse(stdout) as Record<string, unknown>;
    expect(event).toMatchObject({
      kind: 'bounce',
      origin: 'eventPublishing',
      sesMessageId: 'EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000',
      timestamp: '2017-08-05T00:41:02.669Z',
      recipients: ['recipient@example.com'],
      configurationSet: 'ConfigSet',
      bounce: { bounceType: 'Permanent', bounceSubType: 'General' },
      sns: {
        topicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events',
        timestamp: '2024-05-14T09:21:08.101Z',
      },
    });
  });

  it.each([['-'], []])('reads standard input with %j', (...args: string[]) => {
    const { code, stdout } = run(
      ['decode', ...args],
      JSON.stringify(fixtureJson('notifications/complaint-abuse.json')),
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      kind: 'complaint',
      origin: 'notification',
      recipients: ['richard@example.org'],
    });
  });

  it('accepts a file saved with a byte-order mark', () => {
    const file = write(
      'bom.json',
      `\uFEFF${JSON.stringify(fixtureJson('event-publishing/send.json'))}`,
    );
    expect(run(['decode', file]).code).toBe(0);
  });

  const goodFixtures = ['event-publishing', 'notifications', 'receiving', 'sns']
    .flatMap(fixtureNames)
    .filter((n) => !n.includes('not-json'));
  it.each(goodFixtures)('decodes %s', (name) => {
    const { code, stdout, stderr } = run(['decode', join(FIXTURES_DIR, name)]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toHaveProperty('kind');
  });

  it.each([
    ['empty input', '', 'notJson: at the top level: expected JSON text, got empty input'],
    ['not JSON', 'hello', 'notJson: at the top level: expected JSON text, got string "hello"'],
    [
      'an array',
      '[1,2]',
      'invalid: at the top level: expected object with one of Type, eventType, notificationType, got array of 2',
    ],
    [
      'a Message that is not JSON',
      JSON.stringify(fixtureJson('sns/notification-not-json-message.json')),
      'notJson: at Message: expected JSON text, got string "hello, this is not JSON"',
    ],
    [
      'an unknown eventType',
      '{"eventType":"Teleport","mail":{}}',
      'unsupported: at eventType: expected',
    ],
    [
      'a missing field',
      JSON.stringify({ ...fixtureJson('event-publishing/bounce.json'), bounce: undefined }),
      'invalid: at bounce: expected object, got undefined',
    ],
    [
      'deep nesting',
      '['.repeat(200_000) + ']'.repeat(200_000),
      'invalid: at the top level: expected object',
    ],
    ['a __proto__ key', '{"__proto__":{"eventType":"Bounce"}}', 'invalid: at the top level'],
  ])(
    '%s: exit 65, one line on stderr, nothing on stdout, no stack trace',
    (_label, body, message) => {
      const { code, stdout, stderr } = run(['decode', write('bad.json', body)]);
      expect(code).toBe(65);
      expect(stdout).toBe('');
      expect(stderr.endsWith('\n')).toBe(true);
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`ses-worker decode: ${message}`);
      expect(stderr).not.toMatch(STACK_FRAME);
    },
  );

  it('says which file it cannot read and exits 66', () => {
    const { code, stdout, stderr } = run(['decode', join(dir, 'missing.json')]);
    expect(code).toBe(66);
    expect(stdout).toBe('');
    expect(stderr).toBe(`ses-worker decode: cannot read ${join(dir, 'missing.json')}: ENOENT\n`);
  });

  it('treats a directory as unreadable input, without a stack trace', () => {
    const { code, stderr } = run(['decode', dir]);
    expect(code).toBe(66);
    expect(stderr).toMatch(/^ses-worker decode: cannot read .+: EISDIR\n$/);
  });
});
