/**
 * The tamper-evident audit trail (audit/log.ts), its chain (audit/chain.ts), the diagnosis
 * of a broken chain (audit/diagnose.ts) and bursts of failed logins (audit/bursts.ts).
 */
export * from './audit/chain.js';
export * from './audit/log.js';
export * from './audit/diagnose.js';
export * from './audit/bursts.js';
export { isSecretKey, redact } from './redact.js';
