/** The two readings every message has: Chinese (the seed's) and English (docs/decisions.md "Message language"). */
export type Lang = 'zh' | 'en';
