/** The forwarding variables: off by default, required together, one clear line when wrong. */
import { isLeft, isRight } from 'fp-ts/Either';
import { join } from 'node:path';
import type { EmailAddress } from '../../../domain/address';
import { ConfigError, loadConfig } from '../../../worker/config';
import {
  DEFAULT_FORWARD_MAX_BYTES,
  DEFAULT_SMTP_TIMEOUTS,
  forwardingConfig,
  type ForwardingEnv,
} from '../../../worker/forwardingConfig';
import { FIXTURES_DIR } from '../../support/fixtures';

const queue = {
  SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events',
  AWS_REGION: 'eu-west-1',
};
const forwarding = {
  FORWARD_RULES: '{"info@example.com": ["ops@example.net"]}',
  FORWARD_FROM: 'Forwarder@Example.com',
  SMTP_URL: 'smtps://user:secret@email-smtp.eu-west-1.amazonaws.com:465',
};
const RULES_FILE = join(FIXTURES_DIR, 'forwarding', 'rules.json');

const failure = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('forwarding configuration', () => {
  it('is off while FORWARD_RULES is unset, even with the other variables set', () => {
    expect(loadConfig(queue).forwarding).toBeNull();
    expect(loadConfig({ ...queue, FORWARD_RULES: '', SMTP_URL: 'smtp://x' }).forwarding).toBeNull();
  });

  it('reads inline rules with the defaults', () => {
    const config = loadConfig({ ...queue, ...forwarding }).forwarding!;
    expect(config).toMatchObject({
      from: 'forwarder@example.com',
      smtpUrl: forwarding.SMTP_URL,
      failedVerdicts: 'drop',
      maxBytes: DEFAULT_FORWARD_MAX_BYTES,
      rulesSource: 'inline',
      ruleCount: 1,
      s3CustomEndpoint: false,
      smtpTimeouts: DEFAULT_SMTP_TIMEOUTS,
    });
    expect(config.rules.byAddress.get('info@example.com' as EmailAddress)).toEqual([
      'ops@example.net',
    ]);
  });

  it('reads rules from @path, and every other variable', () => {
    const config = loadConfig({
      ...queue,
      ...forwarding,
      FORWARD_RULES: `@${RULES_FILE}`,
      FORWARD_FAILED_VERDICTS: 'tag',
      FORWARD_MAX_BYTES: '2048',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566',
      SMTP_CONNECTION_TIMEOUT_MS: '1000',
      SMTP_GREETING_TIMEOUT_MS: '2000',
      SMTP_SOCKET_TIMEOUT_MS: '3000',
    }).forwarding!;
    expect(config).toMatchObject({
      rulesSource: RULES_FILE,
      ruleCount: 4,
      failedVerdicts: 'tag',
      maxBytes: 2048,
      s3CustomEndpoint: true,
      smtpTimeouts: { connectionMs: 1000, greetingMs: 2000, socketMs: 3000 },
    });
    expect(config.rules.catchAll).toEqual(['postmaster@example.net']);
  });

  it('names a rules file it cannot read, with the reason', () => {
    const missing = join(FIXTURES_DIR, 'forwarding', 'no-such-rules.json');
    expect(failure({ ...queue, ...forwarding, FORWARD_RULES: `@${missing}` })).toBe(
      `FORWARD_RULES: cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    );
  });

  it('names the variable or file, and the rule, when the rules are wrong', () => {
    expect(failure({ ...queue, ...forwarding, FORWARD_RULES: '{"info@example.com": "ops"}' })).toBe(
      'FORWARD_RULES: at ["info@example.com"]: expected array, got string "ops"',
    );
    expect(failure({ ...queue, ...forwarding, FORWARD_RULES: '{info: 1}' })).toMatch(
      /^FORWARD_RULES: expected JSON \(or @path to a JSON file\): /,
    );
    const read = (text: string) => () => text;
    const env: ForwardingEnv = { ...forwarding, FORWARD_FROM: 'f@example.com' as EmailAddress };
    const fromFile = (text: string) =>
      forwardingConfig({ ...env, FORWARD_RULES: '@/etc/ses-worker/rules.json' }, read(text));
    const notJson = fromFile('{"a@example.com": [}');
    expect(isLeft(notJson) && notJson.left).toMatch(
      /^FORWARD_RULES \(\/etc\/ses-worker\/rules.json\): expected JSON \(or @path to a JSON file\): /,
    );
    const badTarget = fromFile('{"@": ["postmaster"]}');
    expect(isLeft(badTarget) && badTarget.left).toBe(
      'FORWARD_RULES (/etc/ses-worker/rules.json): at ["@"][0]: expected email address, got string "postmaster"',
    );
    expect(isRight(fromFile('{"@": ["postmaster@example.net"]}'))).toBe(true);
  });

  it('requires FORWARD_FROM and SMTP_URL with the rules', () => {
    expect(failure({ ...queue, ...forwarding, FORWARD_FROM: undefined })).toBe(
      'FORWARD_FROM: expected the verified address to forward from (required with FORWARD_RULES), got ""',
    );
    expect(failure({ ...queue, ...forwarding, SMTP_URL: undefined })).toBe(
      'SMTP_URL: expected an smtp:// or smtps:// URL (required with FORWARD_RULES), got ""',
    );
  });

  it('refuses bad values, never showing an SMTP password', () => {
    expect(failure({ ...queue, ...forwarding, FORWARD_FROM: 'forwarder' })).toBe(
      'FORWARD_FROM: expected email address, got "forwarder"',
    );
    expect(
      failure({ ...queue, ...forwarding, SMTP_URL: 'https://user:secret@smtp.example.com' }),
    ).toBe(
      'SMTP_URL: expected an smtp:// or smtps:// URL, got "https://[redacted]@smtp.example.com"',
    );
    expect(failure({ ...queue, ...forwarding, FORWARD_FAILED_VERDICTS: 'quarantine' })).toBe(
      'FORWARD_FAILED_VERDICTS: expected "drop" | "tag", got "quarantine"',
    );
    expect(failure({ ...queue, ...forwarding, FORWARD_MAX_BYTES: '10MB' })).toBe(
      'FORWARD_MAX_BYTES: expected an integer from 1024 to 1073741824, got "10MB"',
    );
  });
});
