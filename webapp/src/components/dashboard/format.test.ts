import {describe, expect, it} from 'vitest';

import {formatBytes, formatDuration, formatTime, toMillis} from './format';

describe('formatBytes', () => {
    it.each([
        [0, '0 B'],
        [1023, '1023 B'],
        [1024, '1.0 KiB'],
        [1536, '1.5 KiB'],
        [5 * 1024 * 1024, '5.0 MiB'],
        [3.3 * 1024 ** 3, '3.3 GiB'],
    ])('%d bytes are %s', (n, want) => {
        expect(formatBytes(n)).toBe(want);
    });
});

describe('formatDuration', () => {
    it.each([
        [850, '850 ms'],
        [12_400, '12 s'],
        [184_000, '3 min 4 s'],
        [3_600_000, '1 h'],
        [7_500_000, '2 h 5 min'],
        [50 * 3_600_000, '2 d 2 h'],
        [-1, '—'],
        [NaN, '—'],
    ])('%d ms is %s', (ms, want) => {
        expect(formatDuration(ms)).toBe(want);
    });
});

describe('formatTime', () => {
    it('prints UTC, with seconds on request', () => {
        expect(formatTime('2026-03-01T14:05:09.123+01:00')).toBe('2026-03-01 13:05 UTC');
        expect(formatTime('2026-03-01T14:05:09Z', true)).toBe('2026-03-01 14:05:09 UTC');
        expect(formatTime(Date.UTC(2026, 0, 2, 3, 4))).toBe('2026-01-02 03:04 UTC');
    });

    it('prints a dash for a missing or zero time (Go zero time included)', () => {
        expect(formatTime('')).toBe('—');
        expect(formatTime(undefined)).toBe('—');
        expect(formatTime(0)).toBe('—');
        expect(formatTime('0001-01-01T00:00:00Z')).toBe('—');
        expect(formatTime('yesterday')).toBe('—');
    });

    it('reads RFC 3339 strings and milliseconds alike', () => {
        expect(toMillis('2026-03-01T12:00:00Z')).toBe(Date.UTC(2026, 2, 1, 12));
        expect(toMillis(5)).toBe(5);
        expect(toMillis(undefined)).toBeNaN();
    });
});
