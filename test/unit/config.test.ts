// The worker's and CLI's configuration from the environment: the trust model's knobs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CACHED_RELEASES, allowedEndpointHosts, allowedNamespaces, checkWorkerSettings, connectTimeoutMs, maxCachedReleases, metricsAddress,
  requireNamespaceAllowlist, shutdownGraceMs, taskQueueFor, temporalConfig,
} from '../../src/config.js';

describe('configuration', () => {
  it('requires a namespace allowlist in a cluster; * allows all on purpose', () => {
    expect(() => requireNamespaceAllowlist({ KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toThrow(/BLUEGREEN_NAMESPACES is not set: a worker in a cluster must name the namespaces/);
    expect(() => requireNamespaceAllowlist({ KUBERNETES_SERVICE_HOST: '10.0.0.1', BLUEGREEN_NAMESPACES: '*' })).not.toThrow();
    expect(() => requireNamespaceAllowlist({})).not.toThrow();
    expect(allowedNamespaces({ BLUEGREEN_NAMESPACES: 'ml, ml-prod' })).toEqual(['ml', 'ml-prod']);
  });

  it('bounds the releases a worker keeps in memory, refusing what is not a count', () => {
    expect(maxCachedReleases({})).toBe(DEFAULT_CACHED_RELEASES);
    expect(maxCachedReleases({ BLUEGREEN_MAX_CACHED_WORKFLOWS: '1000' })).toBe(1000);
    expect(() => maxCachedReleases({ BLUEGREEN_MAX_CACHED_WORKFLOWS: '1e3x' })).toThrow('BLUEGREEN_MAX_CACHED_WORKFLOWS is "1e3x": it must be a whole number of at least 2');
    expect(() => maxCachedReleases({ BLUEGREEN_MAX_CACHED_WORKFLOWS: '1' })).toThrow(/at least 2/);
  });

  it('gives each named cluster a task queue of its own', () => {
    expect(temporalConfig({ BLUEGREEN_CLUSTER_NAME: 'prod-eu' }).taskQueue).toBe('bluegreen-prod-eu');
    expect(temporalConfig({}).taskQueue).toBe('bluegreen');
    expect(taskQueueFor('bluegreen', undefined)).toBe('bluegreen');
  });

  it('takes a CA file and a server name for a self-hosted Temporal', () => {
    const ca = join(mkdtempSync(join(tmpdir(), 'bluegreen-ca-')), 'ca.pem');
    writeFileSync(ca, 'CA');
    const { tls } = temporalConfig({ TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    expect(tls).toEqual({ serverRootCACertificate: Buffer.from('CA'), serverNameOverride: 'temporal.internal' });
  });

  it('allows verification hosts only as listed', () => {
    expect(allowedEndpointHosts({})).toEqual([]);
    expect(allowedEndpointHosts({ BLUEGREEN_VERIFY_HOSTS: '127.0.0.1, Models.Example.com:8080' })).toEqual(['127.0.0.1', 'models.example.com:8080']);
  });

  it('serves metrics only where asked, at HOST:PORT', () => {
    expect(metricsAddress({})).toBeUndefined();
    expect(metricsAddress({ BLUEGREEN_METRICS_ADDRESS: '0.0.0.0:9464' })).toBe('0.0.0.0:9464');
    expect(metricsAddress({ BLUEGREEN_METRICS_ADDRESS: '[::1]:9464' })).toBe('[::1]:9464');
    expect(() => metricsAddress({ BLUEGREEN_METRICS_ADDRESS: '9464' })).toThrow('BLUEGREEN_METRICS_ADDRESS is "9464": it must be HOST:PORT, e.g. 0.0.0.0:9464');
    expect(() => metricsAddress({ BLUEGREEN_METRICS_ADDRESS: 'localhost:99999' })).toThrow(/HOST:PORT/);
  });

  it('reads every duration variable in the spec forms, and names a bad one', () => {
    // 1m30s stopped the worker at start when the raw string went to the SDK.
    expect(shutdownGraceMs({ BLUEGREEN_SHUTDOWN_GRACE: '1m30s' })).toBe(90_000);
    expect(shutdownGraceMs({})).toBe(20_000);
    expect(connectTimeoutMs({ BLUEGREEN_CONNECT_TIMEOUT: '2m' })).toBe(120_000);
    expect(() => shutdownGraceMs({ BLUEGREEN_SHUTDOWN_GRACE: '90' })).toThrow('BLUEGREEN_SHUTDOWN_GRACE is "90": it must be a duration such as 20s, 1m30s or 2m');
    expect(() => checkWorkerSettings({ BLUEGREEN_CONNECT_TIMEOUT: 'soon' })).toThrow(/^BLUEGREEN_CONNECT_TIMEOUT is "soon"/);
    expect(() => checkWorkerSettings({})).not.toThrow();
  });
});
