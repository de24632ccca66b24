/**
 * JSON Schema of the spec as written (input form), generated from schema.ts, for editors
 * (`# yaml-language-server: $schema=...`) and for docs/spec.md.
 */
import { z } from 'zod';
import { specSchema } from './schema.js';

/** A JSON Schema node (the subset Aloft's generator emits). */
export interface JsonSchema {
  $schema?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  'x-default'?: string;
}

/** The spec's JSON Schema (draft-07, the version YAML editors support best). */
export function specJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(specSchema, { io: 'input', target: 'draft-7' }) as JsonSchema;
  const { $schema, ...rest } = generated;
  return { $schema, title: 'Aloft spec (aloft.yaml)', ...rest };
}
