/** seed: every API path starts here. */
export const API_BASE = '/api/model/v5';
