/**
 * The one ordered migration set, shared by SQLite and PostgreSQL. Append new migrations
 * with the next number; never edit or reorder one that has shipped.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_registry.js';
import * as m0002 from './0002_api_keys.js';
import * as m0003 from './0003_audit.js';
import * as m0004 from './0004_key_scopes_explicit.js';
import * as m0005 from './0005_revisions.js';
import * as m0006 from './0006_capture.js';
import * as m0007 from './0007_slo_events.js';
import * as m0008 from './0008_cost_meters.js';
import * as m0009 from './0009_alert_state.js';
import * as m0010 from './0010_capture_blocks.js';
import * as m0011 from './0011_leases.js';
import * as m0012 from './0012_rollout_state.js';
import * as m0013 from './0013_alert_silences.js';
import * as m0014 from './0014_cost_measured.js';
import * as m0015 from './0015_autoscaler_state.js';
import * as m0016 from './0016_key_limits.js';
import * as m0017 from './0017_capture_ids_clustered.js';
import * as m0018 from './0018_cost_first_sample.js';

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_registry': m0001,
  '0002_api_keys': m0002,
  '0003_audit': m0003,
  '0004_key_scopes_explicit': m0004,
  '0005_revisions': m0005,
  '0006_capture': m0006,
  '0007_slo_events': m0007,
  '0008_cost_meters': m0008,
  '0009_alert_state': m0009,
  '0010_capture_blocks': m0010,
  '0011_leases': m0011,
  '0012_rollout_state': m0012,
  '0013_alert_silences': m0013,
  '0014_cost_measured': m0014,
  '0015_autoscaler_state': m0015,
  '0016_key_limits': m0016,
  '0017_capture_ids_clustered': m0017,
  '0018_cost_first_sample': m0018,
};

/** A static provider: migrations are compiled in, not discovered on disk. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
