import React from 'react';

import type {AuditRecord} from '../../api/types';

import {ErrorAlert, type Loaded} from './common';
import {formatTime} from './format';

export interface AuditSectionProps {
    audit: Loaded<AuditRecord[]>;
    exportJSONL: string;
    exportCSV: string;
}

function detailsText(r: AuditRecord): string {
    const details = Object.entries(r.details ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
    return [r.reason ?? '', ...details].filter((s) => s !== '').join('; ');
}

const AuditSection = ({audit, exportJSONL, exportCSV}: AuditSectionProps): React.JSX.Element => {
    const records = audit.data;
    return (
        <section
            aria-labelledby='dr-audit-title'
            data-testid='dr-audit'
        >
            <h4 id='dr-audit-title'>Audit trail</h4>
            <p className='DrMuted'>
                {'The latest entries, newest first. Export the whole trail: '}
                <a href={exportJSONL}>JSON lines</a>
                {' · '}
                <a href={exportCSV}>CSV</a>
                {'. '}
                <code>/dr audit verify</code>
                {' proves its hash chain is unbroken.'}
            </p>
            {audit.error && (
                <ErrorAlert
                    what={records ? 'Could not refresh the audit trail (showing the last answer)' : 'Could not load the audit trail'}
                    error={audit.error}
                />
            )}
            {records?.length === 0 && <p>The audit trail is empty.</p>}
            {records && records.length > 0 && (
                <table aria-label='Latest audit entries'>
                    <thead>
                        <tr>
                            <th scope='col'>#</th>
                            <th scope='col'>Time</th>
                            <th scope='col'>Actor</th>
                            <th scope='col'>Action</th>
                            <th scope='col'>Target</th>
                            <th scope='col'>Outcome</th>
                            <th scope='col'>Details</th>
                        </tr>
                    </thead>
                    <tbody>
                        {records.map((r) => (
                            <tr key={r.seq}>
                                <td>{r.seq}</td>
                                <td>{formatTime(r.time, true)}</td>
                                <td>{r.actor}</td>
                                <td><code>{r.action}</code></td>
                                <td><code>{r.target}</code></td>
                                <td>{r.outcome}</td>
                                <td>{detailsText(r)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
        </section>
    );
};

export default AuditSection;
