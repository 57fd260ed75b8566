/**
 * `ses-worker verify-signature` as an operator runs it on stored messages: the built CLI, the
 * captured AWS-signed envelopes and the pinned AWS certificates. Exit 0 valid, 65 invalid, 69
 * certificate unavailable; one line each. `npm test` builds dist/ first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FIXTURES_DIR, fixtureJson, fixtureText } from '../support/fixtures';

const CLI = resolve(__dirname, '..', '..', 'dist', 'worker', 'cli.js');
const CERT_DIR = join(FIXTURES_DIR, 'captured', 'certs');
const CLICK_NAME = 'captured/ses/mass-email-click-linktags-null.json';
const CLICK = join(FIXTURES_DIR, CLICK_NAME);
const NOTICE = join(FIXTURES_DIR, 'captured', 'ses', 'laravel-ses-setup-notice.json');

/** Pinned certificates, fetching off: nothing here may reach for the network. */
const PINNED = { SNS_CERT_DIR: CERT_DIR, SNS_CERT_FETCH: 'false' };

function run(args: string[], env: Record<string, string>, stdin = '') {
  const result = spawnSync(process.execPath, [CLI, 'verify-signature', ...args], {
    input: stdin,
    encoding: 'utf8',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
});

it('--at message: a genuine envelope is valid, checked at its own Timestamp (exit 0)', () => {
  const { code, stdout, stderr } = run([CLICK, '--at', 'message'], PINNED);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toBe(
    'valid: Notification 95a0f81c-4327-5733-9988-a2c0688e055f on arn:aws:sns:us-west-2:769091347911:Emaily, signed by a certificate valid at 2022-04-22T04:04:57.097Z\n',
  );
});

it('--at <ISO time> and standard input', () => {
  const { code, stdout } = run(
    ['-', '--at', '2022-05-01T00:00:00Z'],
    PINNED,
    fixtureText(CLICK_NAME),
  );
  expect(code).toBe(0);
  expect(stdout).toMatch(/^valid: .* valid at 2022-05-01T00:00:00\.000Z\n$/);
});

it('now (the default): the certificate has expired, so the signature is invalid (exit 65)', () => {
  const { code, stdout, stderr } = run([CLICK], PINNED);
  expect({ code, stdout }).toEqual({ code: 65, stdout: '' });
  expect(stderr).toMatch(
    /^ses-worker verify-signature: invalid: certRejected: the signing certificate is not valid now \(.+\)\n$/,
  );
});

it('a forged message is invalid with the reason (exit 65)', () => {
  const forged = JSON.stringify({
    ...fixtureJson(CLICK_NAME),
    Message: fixtureJson<{ Message: string }>(CLICK_NAME).Message.replace('/yes', '/no'),
  });
  const { code, stderr } = run(['--at', 'message'], PINNED, forged);
  expect(code).toBe(65);
  expect(stderr).toBe(
    'ses-worker verify-signature: invalid: mismatch: the signature does not match the message\n',
  );
});

it('a topic outside SNS_TOPIC_ARNS is invalid (exit 65)', () => {
  const { code, stderr } = run([CLICK, '--at', 'message'], {
    ...PINNED,
    SNS_TOPIC_ARNS: 'arn:aws:sns:us-west-2:123456789012:ses-events',
  });
  expect(code).toBe(65);
  expect(stderr).toMatch(/^ses-worker verify-signature: invalid: topic: /);
});

it('a certificate not pinned, with fetching off, is unavailable and named (exit 69)', () => {
  const { code, stdout, stderr } = run([NOTICE, '--at', 'message'], PINNED);
  expect({ code, stdout }).toEqual({ code: 69, stdout: '' });
  expect(stderr).toBe(
    `ses-worker verify-signature: certificate unavailable: SimpleNotificationService-010a507c1833636cd94bdb98bd93083a.pem is not in SNS_CERT_DIR (${CERT_DIR}) and SNS_CERT_FETCH is false: add it and replay the DLQ\n`,
  );
});

it('--at with anything else is a usage error (64)', () => {
  const { code, stderr } = run([CLICK, '--at', 'yesterday'], PINNED);
  expect(code).toBe(64);
  expect(stderr).toContain('expected now, message or an ISO 8601 time');
});

it('--at message on a body without a Timestamp is invalid (65)', () => {
  const { code, stderr } = run(['--at', 'message'], PINNED, '{"Type":"Notification"}');
  expect(code).toBe(65);
  expect(stderr.trim().split('\n')).toHaveLength(1);
});

it.each([
  ['SNS_CERT_FETCH=false without SNS_CERT_DIR', { SNS_CERT_FETCH: 'false' }, /^SNS_CERT_FETCH: /],
  ['SNS_CERT_DIR naming no directory', { SNS_CERT_DIR: join(CERT_DIR, 'nope') }, /^SNS_CERT_DIR: /],
])('%s stops it with one line naming the variable (78)', (_, env, line) => {
  const { code, stderr } = run([CLICK], env);
  expect(code).toBe(78);
  expect(stderr.replace('ses-worker: configuration: ', '')).toMatch(line);
  expect(stderr.trim().split('\n')).toHaveLength(1);
});
