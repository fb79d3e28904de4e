import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import { VersionTimeline } from './VersionTimeline';
import type { DatasetVersion } from '../types';
import { mockFetch } from '../test/fetch';

const version = (id: string, producerVersion: string | null, versionTags: string[]) =>
  ({ id: { namespace: 'file', name: '/lake/orders', version: id }, version: id, producerVersion, versionTags, createdAt: '2026-12-01T10:00:00Z' }) as unknown as DatasetVersion;

describe('VersionTimeline snapshots', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('says when a tagged version is gone at its source, and asks only about tagged versions', async () => {
    const base = '/api/v1/namespaces/file/datasets/%2Flake%2Forders/versions';
    const { calls } = mockFetch({
      [`${base}/v-old/snapshot`]: { version: 'v-old', producerVersion: '0', state: 'gone', detail: 'the one data file of version 0 is gone (removed by VACUUM?)' },
      [`${base}/v-mid/snapshot`]: { version: 'v-mid', producerVersion: '1', state: 'present', detail: 'Delta version 1: in the log' },
    });
    render(
      <VersionTimeline
        ns="file"
        name="/lake/orders"
        versions={[version('v-new', '2', []), version('v-mid', '1', ['prod']), version('v-old', '0', ['model-v1'])]}
      />,
    );
    const gone = await screen.findByRole('status');
    expect(gone.textContent).toMatch(/Snapshot gone at source:.*removed by VACUUM/);
    expect((await screen.findByText(/snapshot at source/)).getAttribute('title')).toMatch(/Delta version 1/);
    expect(calls.map((c) => c.url).filter((u) => u.endsWith('/snapshot'))).toHaveLength(2);
  });
});
