import { Writable } from 'node:stream';
import { makeLogger } from '../../../adapters/logger';
import { loggableError, maskUrlCredentials, redactText } from '../../../domain/redact';

describe('maskUrlCredentials', () => {
  it.each([
    ['redis://admin:secret@redis.internal:6379/0', 'redis://[redacted]@redis.internal:6379/0'],
    ['rediss://:secret@host:6380', 'rediss://[redacted]@host:6380'],
    [
      'smtps://AKIA:p@ss@email-smtp.eu-west-1.amazonaws.com:465',
      'smtps://[redacted]@email-smtp.eu-west-1.amazonaws.com:465',
    ],
    ['redis://admin:secret@host:notaport', 'redis://[redacted]@host:notaport'],
    ['Redis at redis://u:p@h:1 is unreachable', 'Redis at redis://[redacted]@h:1 is unreachable'],
    ['"http://key:secret@127.0.0.1:4566/q"', '"http://[redacted]@127.0.0.1:4566/q"'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['no url, but jane@example.com', 'no url, but jane@example.com'],
  ])('%s', (input, masked) => {
    expect(maskUrlCredentials(input)).toBe(masked);
  });
});

describe('loggableError', () => {
  it('keeps message and code only: never the command ioredis attaches, with the job in it', () => {
    const error = Object.assign(
      new Error("OOM command not allowed when used memory > 'maxmemory'."),
      {
        name: 'ReplyError',
        command: {
          name: 'evalsha',
          args: ['…', '{"recipients":["jane@example.com"],"subject":"Hi"}'],
        },
      },
    );
    expect(loggableError(error)).toEqual({
      message: "OOM command not allowed when used memory > 'maxmemory'.",
      name: 'ReplyError',
    });
    expect(JSON.stringify(loggableError(error))).not.toContain('jane');
  });

  it('redacts addresses (BullMQ names job ids) and URL credentials in the message', () => {
    const lock = new Error(
      'could not renew lock for job suppression/bounce/fb-1/someone@example.net',
    );
    expect(loggableError(lock).message).toBe(
      'could not renew lock for job suppression/bounce/fb-1/<address>',
    );
    const refused = Object.assign(new Error('connect to redis://a:secret@h:1 failed'), {
      code: 'ECONNREFUSED',
    });
    expect(loggableError(refused)).toEqual({
      message: 'connect to redis://[redacted]@h:1 failed',
      code: 'ECONNREFUSED',
    });
    expect(loggableError('to <x@y.z>: 550 no')).toEqual({ message: 'to <<address>>: 550 no' });
    expect(redactText('a@b.c')).toBe('<address>');
  });
});

describe('makeLogger', () => {
  const capture = () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return { log: makeLogger('info', destination), lines };
  };

  it('reduces any err field, whatever a log site passes', () => {
    const { log, lines } = capture();
    const error = Object.assign(new Error('job inbound/received/m1 failed for ann@example.org'), {
      command: { args: ['{"mailFrom":"bob@example.org"}'] },
    });
    log.error({ err: error }, 'failed');
    log.error(error, 'failed as the first argument');
    log.error({ err: loggableError(error) }, 'reduced by the log site, then by the logger');
    const text = lines.join('');
    expect(text).not.toMatch(/ann@|bob@|mailFrom|stack/);
    for (const line of lines)
      expect(JSON.parse(line)).toMatchObject({
        err: { message: 'job inbound/received/m1 failed for <address>' },
      });
  });

  it('masks URL credentials in the message and in fields', () => {
    const { log, lines } = capture();
    log.warn({ redisUrl: 'redis://admin:secret@h:1' }, 'cannot reach redis://admin:secret@h:1');
    expect(lines.join('')).not.toContain('secret');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      redisUrl: 'redis://[redacted]@h:1',
      msg: 'cannot reach redis://[redacted]@h:1',
    });
  });
});
