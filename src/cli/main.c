#include "lib/log.h"
int main(void) { log_info("event=placeholder"); return 0; }
