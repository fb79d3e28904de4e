import { afterEach, describe, expect, it } from 'vitest';
import { apiKey, getJson, onKeyNeeded, setApiKey, setVersionTag, type KeyRequest } from './api';
import { mockFetch } from './test/fetch';

afterEach(() => setApiKey(null));

const header = (init: RequestInit | undefined, name: string) => new Headers(init?.headers).get(name);

describe('API keys', () => {
  it('are sent as a bearer token once given, and not before', async () => {
    const { calls } = mockFetch({ '/api/v1/namespaces': { namespaces: [] } });
    await getJson('/api/v1/namespaces');
    expect(header(calls[0].init, 'Authorization')).toBeNull();
    setApiKey('trb_0123456789ab_secret');
    expect(apiKey()).toBe('trb_0123456789ab_secret');
    await getJson('/api/v1/namespaces');
    expect(header(calls[1].init, 'Authorization')).toBe('Bearer trb_0123456789ab_secret');
  });

  it('are asked for when the server refuses for want of a key or a scope', async () => {
    mockFetch({
      '/api/v1/namespaces': () =>
        new Response(JSON.stringify({ code: 401, message: "this request needs an API key with the 'read' scope" }), {
          status: 401,
        }),
      '/api/v1/graphql': () =>
        new Response(JSON.stringify({ errors: [{ message: "the key 'bi' lacks the 'admin' scope", extensions: { code: 'FORBIDDEN' } }] }), {
          status: 403,
        }),
    });
    const asked: KeyRequest[] = [];
    const stop = onKeyNeeded((r) => asked.push(r));
    await expect(getJson('/api/v1/namespaces')).rejects.toMatchObject({ status: 401 });
    await expect(setVersionTag('db', 'orders', 'v1', 'prod', true)).rejects.toMatchObject({ status: 403 });
    stop();
    expect(asked.map((r) => r.status)).toEqual([401, 403]);
    expect(asked[1].message).toContain("lacks the 'admin' scope");
  });

  it('tag versions through the GraphQL mutation with the dataset node id', async () => {
    const { calls } = mockFetch({ '/api/v1/graphql': { data: { untagDatasetVersion: { id: 'x' } } } });
    await setVersionTag('postgres://db:5432', 'public.orders', 'v7', 'prod', false);
    const body = JSON.parse(String(calls[0].init?.body));
    expect(body.query).toContain('untagDatasetVersion');
    expect(body.variables).toEqual({ dataset: 'dataset:postgres://db:5432:public.orders', version: 'v7', tag: 'prod' });
  });
});
