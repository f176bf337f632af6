import { describe, expect, it } from 'vitest';
import { findChromium } from './ui-support.ts';

describe('finding Chromium for the browser tests', () => {
  it('fails naming the package to install when there is no browser, rather than skipping', () => {
    expect(() => findChromium(['/nonexistent/chromium'])).toThrow(
      'Chromium not found (looked at /nonexistent/chromium): the visualizer\'s browser tests need Debian\'s "chromium" package (apt-get install -y chromium), or TICKWISE_CHROMIUM set to a Chromium binary.',
    );
  });

  it('takes the first candidate that exists', () => {
    expect(findChromium(['/nonexistent/chromium', process.execPath])).toBe(process.execPath);
  });
});
