// A stand-in for the plugin's server at the network boundary: tests install it as the global
// fetch, so the code under test builds real requests and parses real Response objects.
import {vi} from 'vitest';

export const SITE = 'http://mm.test';
export const API = `${SITE}/plugins/disaster-recovery/api/v1`;

export interface Call {
    method: string;
    path: string; // below /api/v1, without the query
    query: string;
    body: unknown;
    headers: Record<string, string>;
    credentials?: RequestCredentials;
}

type Answer = Response | Promise<Response>;
type Handler = (call: Call) => Answer;

export function json(status: number, body: unknown): Response {
    return new Response(JSON.stringify(body), {status, headers: {'Content-Type': 'application/json'}});
}

export class FakeApi {
    readonly calls: Call[] = [];
    private readonly routes = new Map<string, Handler>();

    /** Answers `method path` (path below /api/v1) with a handler, or always the same JSON. */
    on(method: string, path: string, answer: Handler | {status: number; body: unknown}): this {
        this.routes.set(`${method} ${path}`, typeof answer === 'function' ? answer : () => json(answer.status, answer.body));
        return this;
    }

    /** Answers with each body in turn, then keeps answering the last one. */
    sequence(method: string, path: string, bodies: unknown[], status = 200): this {
        let i = 0;
        return this.on(method, path, () => json(status, bodies[Math.min(i++, bodies.length - 1)]));
    }

    count(method: string, path: string): number {
        return this.calls.filter((c) => c.method === method && c.path === path).length;
    }

    last(method: string, path: string): Call | undefined {
        return this.calls.filter((c) => c.method === method && c.path === path).pop();
    }

    install(): void {
        vi.stubGlobal('fetch', vi.fn((input: RequestInfo | URL, init?: RequestInit) => this.handle(input, init)));
    }

    private handle(input: RequestInfo | URL, init: RequestInit = {}): Answer {
        const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (!raw.startsWith(API)) {
            throw new TypeError(`test: unexpected request to ${raw}`);
        }
        const url = new URL(raw);
        const call: Call = {
            method: init.method ?? 'GET',
            path: url.pathname.slice(new URL(API).pathname.length),
            query: url.search,
            body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
            headers: {...(init.headers as Record<string, string> | undefined)},
            credentials: init.credentials,
        };
        this.calls.push(call);
        const handler = this.routes.get(`${call.method} ${call.path}`);

        // Go's ServeMux answers an unknown route with this plain-text 404.
        return handler ? handler(call) : new Response('404 page not found\n', {status: 404, headers: {'Content-Type': 'text/plain; charset=utf-8'}});
    }
}
