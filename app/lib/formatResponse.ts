/** The one reply shape of the JSON API: `code` 1 is success, 0 failure. */
export interface ApiResponse<T = unknown> {
  code: 0 | 1;
  data: T;
  message: string;
}

export function formatResponse<T>(data: T, code: 0 | 1 = 1, message?: string): ApiResponse<T> {
  return {
    code,
    data,
    message: message ?? (code === 1 ? 'ok' : 'error'),
  };
}
