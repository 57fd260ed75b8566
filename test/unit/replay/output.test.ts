/** How the replay commands print: tables, reasons, progress lines, and the region of a queue URL. */
import { makeTally } from '../../../domain/deadLetters';
import type { Io } from '../../../worker/io';
import { makeProgress } from '../../../worker/commands/progress';
import { regionOfQueueUrl } from '../../../worker/commands/replayContext';
import { shortReason, table, tallyTable } from '../../../worker/commands/replayOutput';

function capture(): Io & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: { write: (chunk: string) => (io.out += chunk) },
    stderr: { write: (chunk: string) => (io.err += chunk) },
    stdinIsTTY: false,
    readStdin: () => Promise.resolve(''),
  };
  return io;
}

describe('table', () => {
  it('pads columns to the widest cell, numbers to the right, without trailing spaces', () => {
    expect(
      table(
        ['kind', 'error', 'moved'],
        [
          ['bounce', 'decode/unsupported', '1,000'],
          ['undecodable', 'redrive', '7'],
        ],
        new Set([2]),
      ),
    ).toBe(
      [
        '  kind         error               moved',
        '  bounce       decode/unsupported  1,000',
        '  undecodable  redrive                 7',
        '',
      ].join('\n'),
    );
  });
});

describe('tallyTable', () => {
  it('shows the columns that always show and those with a count, and a total row', () => {
    const tally = makeTally(['moved', 'kept', 'failed'] as const);
    tally.add('bounce', 'decode/unsupported', 'moved', 7_200_000);
    tally.add('complaint', 'redrive', 'kept', null);
    const text = tallyTable(
      tally,
      ['kind', 'error'],
      [
        { outcome: 'moved', label: 'moved', always: false },
        { outcome: 'kept', label: 'stay', always: true },
        { outcome: 'failed', label: 'failed', always: false },
      ],
      { oldest: true },
    );
    expect(text.split('\n')).toEqual([
      '  kind       error               moved  stay  oldest',
      '  bounce     decode/unsupported      1     0      2h',
      '  complaint  redrive                 0     1       ?',
      '  total                              1     1',
      '',
    ]);
  });
});

describe('shortReason', () => {
  it('keeps the first line, shortened with an ellipsis', () => {
    expect(shortReason('connect ECONNREFUSED 127.0.0.1:25\n    at TCPConnectWrap')).toBe(
      'connect ECONNREFUSED 127.0.0.1:25',
    );
    expect(shortReason('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(shortReason('  ')).toBe('(no reason)');
  });
});

describe('regionOfQueueUrl', () => {
  it.each([
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events', 'eu-west-1'],
    ['https://sqs.us-gov-west-1.amazonaws.com/1/q', 'us-gov-west-1'],
    ['https://ap-southeast-2.queue.amazonaws.com/1/q', 'ap-southeast-2'],
    ['http://sqs.us-east-1.localhost:4566/000000000000/q', 'us-east-1'],
    ['http://127.0.0.1:4566/000000000000/q', null],
    ['not a url', null],
  ])('%s → %s', (url, region) => {
    expect(regionOfQueueUrl(url)).toBe(region);
  });
});

describe('makeProgress, without a terminal', () => {
  it('prints a plain line on stderr at most once per interval, nothing on stdout', () => {
    const io = capture();
    let now = 0;
    const progress = makeProgress(
      'replay',
      { mode: 'lines', intervalMs: 1000 },
      io,
      false,
      () => now,
    );
    progress.update(10, 100, 'moved 10');
    now = 1000;
    progress.update(20, 100, 'moved 20');
    now = 1500;
    progress.update(30, 100, 'moved 30');
    now = 2100;
    progress.update(130, 100, 'moved 130'); // more than the estimate: the total follows
    progress.stop();
    expect(io.err).toBe('replay: 20/100 — moved 20\nreplay: 130/130 — moved 130\n');
    expect(io.out).toBe('');
  });

  it('prints nothing in mode none, and falls back to lines when a bar has no terminal', () => {
    const io = capture();
    makeProgress('replay', { mode: 'none' }, io, false, () => 5000).update(1, 1, 'x');
    makeProgress('replay', { mode: 'bar', intervalMs: 0 }, io, false, () => 0).update(1, 1, 'y');
    expect(io.err).toBe('replay: 1/1 — y\n');
  });
});
