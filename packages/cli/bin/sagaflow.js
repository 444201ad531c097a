#!/usr/bin/env node
// Runs the TypeScript entry point through tsx (the workspace runs its sources directly).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
