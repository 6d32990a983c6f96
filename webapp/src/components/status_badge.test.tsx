import {render, screen, within} from '@testing-library/react';
import React from 'react';
import {describe, expect, it} from 'vitest';

import StatusBadge, {normalizeVerdict, type Verdict} from './status_badge';

const reasonTexts = (): string[] => {
    const list = screen.getByRole('list', {name: 'Reasons'});
    return within(list).getAllByRole('listitem').map((item) => item.textContent ?? '');
};

describe('StatusBadge', () => {
    it('renders a healthy verdict without a reasons list when there are no reasons', () => {
        const {container} = render(<StatusBadge verdict='healthy' reasons={[]}/>);

        expect(screen.getByRole('status').textContent).toBe('Healthy');
        expect(screen.queryByRole('list')).toBeNull();
        expect(container.querySelector('[data-verdict]')?.getAttribute('data-verdict')).toBe('healthy');
    });

    it('renders a degraded verdict with its reasons in order', () => {
        render(
            <StatusBadge
                verdict='degraded'
                reasons={['last backup is 26 hours old', 'replica lag 45s']}
            />,
        );

        expect(screen.getByRole('status').textContent).toBe('Degraded');
        expect(reasonTexts()).toEqual(['last backup is 26 hours old', 'replica lag 45s']);
    });

    it('renders a critical verdict with its reasons, keeping duplicates', () => {
        render(
            <StatusBadge
                verdict='critical'
                reasons={['no backup found', 'no backup found']}
            />,
        );

        expect(screen.getByRole('status').textContent).toBe('Critical');
        expect(reasonTexts()).toEqual(['no backup found', 'no backup found']);
    });

    it('renders "Status unknown" for the unknown verdict', () => {
        render(
            <StatusBadge
                verdict='unknown'
                reasons={['server did not answer']}
            />,
        );

        expect(screen.getByRole('status').textContent).toBe('Status unknown');
        expect(reasonTexts()).toEqual(['server did not answer']);
    });

    it('renders "Status unknown" for a verdict this webapp does not know', () => {
        const {container} = render(
            <StatusBadge
                verdict={'on-fire' as Verdict}
                reasons={[]}
            />,
        );

        expect(screen.getByRole('status').textContent).toBe('Status unknown');
        expect(container.querySelector('[data-verdict]')?.getAttribute('data-verdict')).toBe('unknown');
    });
});

describe('normalizeVerdict', () => {
    it.each(['healthy', 'degraded', 'critical', 'unknown'] as const)('keeps %s', (verdict) => {
        expect(normalizeVerdict(verdict)).toBe(verdict);
    });

    it.each([undefined, null, 3, '', 'HEALTHY', 'toString', '__proto__'])('maps %j to unknown', (value) => {
        expect(normalizeVerdict(value)).toBe('unknown');
    });
});

describe('StatusBadge, components not set up', () => {
    it('lists them apart, neutral, and keeps the verdict', () => {
        const {container} = render(
            <StatusBadge
                verdict='healthy'
                reasons={[]}
                notSetUp={['Database', 'S3']}
            />,
        );

        expect(screen.getByRole('status').textContent).toBe('Healthy');
        expect(screen.queryByRole('list')).toBeNull();
        const line = container.querySelector('.DisasterRecoveryStatusBadge__notSetUp');
        expect(line?.textContent).toBe('Not set up (not counted in the verdict): Database, S3');
        expect((line as HTMLElement).style.color).not.toContain('dnd-indicator');
    });

    it('says nothing when everything is set up', () => {
        const {container} = render(
            <StatusBadge
                verdict='degraded'
                reasons={['replica lag 45s']}
            />,
        );

        expect(container.querySelector('.DisasterRecoveryStatusBadge__notSetUp')).toBeNull();
    });
});
