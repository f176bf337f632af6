import { afterEach, describe, expect, it, vi } from 'vitest';
import { chromiumOrSkip, findChromium } from './ui-support.ts';

describe('finding Chromium for the browser tests', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('fails naming the package to install when there is no browser', () => {
    expect(() => findChromium(['/nonexistent/chromium'])).toThrow(
      'Chromium not found (looked at /nonexistent/chromium): the visualizer\'s browser tests need Debian\'s "chromium" package (apt-get install -y chromium), or TICKWISE_CHROMIUM set to a Chromium binary.',
    );
  });

  it('takes the first candidate that exists', () => {
    expect(findChromium(['/nonexistent/chromium', process.execPath])).toBe(process.execPath);
  });

  it('skips the suite with one line naming the package when there is no browser, outside CI', () => {
    vi.stubEnv('CI', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(chromiumOrSkip('ui suite', ['/nonexistent/chromium'])).toBeNull();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/^\[tests\] ui suite: skipped: Chromium not found \(looked at \/nonexistent\/chromium\).*apt-get install -y chromium/);
    expect(warn.mock.calls[0]![0]).not.toContain('\n');
  });

  it('fails the suite instead under CI=true', () => {
    vi.stubEnv('CI', 'true');
    expect(() => chromiumOrSkip('ui suite', ['/nonexistent/chromium'])).toThrow(/^ui suite: Chromium not found .*CI=true: a missing tool fails the run/);
  });

  it('gives the binary when there is one', () => {
    vi.stubEnv('CI', 'true');
    expect(chromiumOrSkip('ui suite', [process.execPath])).toBe(process.execPath);
  });
});
