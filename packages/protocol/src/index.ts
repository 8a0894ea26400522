export * from './errors.ts';
export * from './rest.ts';
export * from './signaling.ts';
export * from './tokens.ts';
