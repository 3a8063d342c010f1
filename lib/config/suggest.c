/* "Did you mean ...?" — nearest option by edit distance. */
#include <stdlib.h>
#include <string.h>

#include "config/options.h"

size_t h2k_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t *row = malloc((lb + 1) * sizeof *row);
  if (!row)
    return (size_t)-1;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = diag + cost;
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  size_t d = row[lb];
  free(row);
  return d;
}

const char *h2k_suggest(const char *word, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    if (!cands[i])
      continue;
    size_t d = h2k_edit_distance(word, cands[i]);
    if (d < best_d) {
      best_d = d;
      best = cands[i];
    }
  }
  /* Allow roughly one typo per four characters, at least two. */
  size_t limit = strlen(word) / 4 + 1;
  if (limit < 2)
    limit = 2;
  return best_d <= limit ? best : NULL;
}

static const char *suggest_from_table(const char *word, bool cli) {
  const char *cands[H2K_OPT_COUNT_ + 1];
  size_t n = 0;
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *o = &h2k_options[i];
    if (cli)
      cands[n++] = o->cli;
    else if (!(o->flags & OPT_CLI_ONLY))
      cands[n++] = o->key;
  }
  if (!cli)
    cands[n++] = "command";
  return h2k_suggest(word, cands, n);
}

const char *h2k_suggest_key(const char *word) {
  return suggest_from_table(word, false);
}

const char *h2k_suggest_cli(const char *flag) {
  return suggest_from_table(flag, true);
}
