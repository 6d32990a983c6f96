import React, {useEffect, useId, useRef} from 'react';

export interface ConfirmDialogProps {
    title: string;
    children: React.ReactNode;
    confirmLabel: string;
    onConfirm: () => void;
    onCancel: () => void;

    /** Style the confirm button as destructive. */
    danger?: boolean;
}

/**
 * A modal confirmation for actions that cannot be undone. It is rendered in place (fixed over
 * the page) rather than through a portal, so the plugin needs nothing from react-dom. Focus
 * starts on Cancel, so Enter on a stray keypress does not confirm; Escape cancels.
 */
const ConfirmDialog = ({title, children, confirmLabel, onConfirm, onCancel, danger = false}: ConfirmDialogProps): React.JSX.Element => {
    const titleId = useId();
    const cancelRef = useRef<HTMLButtonElement>(null);

    useEffect(() => {
        cancelRef.current?.focus();
        const onKey = (e: KeyboardEvent): void => {
            if (e.key === 'Escape') {
                onCancel();
            }
        };
        document.addEventListener('keydown', onKey);
        return () => document.removeEventListener('keydown', onKey);
    }, [onCancel]);

    return (
        <div className='DrDialogBackdrop'>
            <div
                role='dialog'
                aria-modal='true'
                aria-labelledby={titleId}
                className='DrDialog'
            >
                <h4 id={titleId}>{title}</h4>
                <div className='DrDialogBody'>{children}</div>
                <div className='DrDialogButtons'>
                    <button
                        ref={cancelRef}
                        type='button'
                        className='btn btn-tertiary'
                        onClick={onCancel}
                    >
                        {'Cancel'}
                    </button>
                    <button
                        type='button'
                        className={danger ? 'btn btn-danger' : 'btn btn-primary'}
                        onClick={onConfirm}
                    >
                        {confirmLabel}
                    </button>
                </div>
            </div>
        </div>
    );
};

export default ConfirmDialog;
