#ifndef C_SYSTEM_SHIMS_H
#define C_SYSTEM_SHIMS_H
// Placeholder; the service issue fills this in (CPU_SET macros, etc.).
int csystemshims_placeholder(void);
#endif
