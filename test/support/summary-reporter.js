/**
 * Ends the run with one plain line, `jest: N passed, N failed, N skipped`, the form CI reads
 * to tell a run that tested something from one that ran nothing. Jest prints its own summary
 * after every custom reporter, so the line is written as the process exits, to stderr like
 * jest's summary: that makes it the last line. Written to the file descriptor itself: with
 * forceExit, jest silences process.stderr's write before exiting.
 */
const { writeSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    const skipped = numPendingTests + numTodoTests;
    const line = `jest: ${numPassedTests} passed, ${numFailedTests} failed, ${skipped} skipped\n`;
    process.once('exit', () => writeSync(2, line));
  }
}
module.exports = SummaryReporter;
