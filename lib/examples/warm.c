#include <ckpt/ckpt.h>
#include <stdio.h>
int main(void) {
  long sum = 0; for (long i = 0; i < 300000000; ++i) sum += i % 7;   /* the slow start-up */
  int r = ckpt_checkpoint("warm.ckpt", 0);
  if (r < 0) { fprintf(stderr, "checkpoint: %s\n", ckpt_error_message()); return 1; }
  if (r == CKPT_ORIGINAL) { printf("saved warm.ckpt (sum %ld)\n", sum); return 0; }
  printf("copy %016llx of generation %u: sum %ld at once\n", (unsigned long long)ckpt_copy_id(), ckpt_generation(), sum);
  return 0;
}
