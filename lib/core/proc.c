#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"

extern char **environ;

/* keep at most this much of a child's output */
#define OUTPUT_LIMIT (1 << 20)

static void read_all(int fd, h2k_buf *out) {
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (out->len < OUTPUT_LIMIT)
      h2k_buf_append(out, chunk, (size_t)n);
  }
}

static void describe_failure(h2k_error *err, const char *prog, int status,
                             const char *output) {
  const char *tail = output ? output : "";
  size_t len = strlen(tail);
  if (len > 2000)
    tail += len - 2000;
  if (WIFEXITED(status))
    h2k_err_set(err, H2K_E_FAIL, "'%s' failed with exit status %d%s%s", prog,
                WEXITSTATUS(status), *tail ? ": " : "", tail);
  else
    h2k_err_set(err, H2K_E_FAIL, "'%s' was killed by signal %d%s%s", prog,
                WTERMSIG(status), *tail ? ": " : "", tail);
}

int h2k_proc_run(const char *const *argv, char **output, h2k_error *err) {
  if (output)
    *output = NULL;
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot run '%s'", argv[0]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    h2k_err_errno(err, H2K_E_ENV, rc, "cannot run '%s'", argv[0]);
    h2k_err_hint(err, "is it installed? (scripts/install-deps.sh)");
    return -1;
  }
  h2k_buf out = {0};
  read_all(pipefd[0], &out);
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  char *text = h2k_buf_steal(&out);
  int result = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    describe_failure(err, argv[0], status, text);
    result = -1;
  }
  if (output)
    *output = text;
  else
    free(text);
  return result;
}

char *h2k_proc_which(const char *prog) {
  const char *path = getenv("PATH");
  if (!path || strchr(prog, '/'))
    return access(prog, X_OK) == 0 ? strdup(prog) : NULL;
  while (*path) {
    size_t n = strcspn(path, ":");
    char *cand = h2k_strdup_printf("%.*s/%s", (int)n, n ? path : ".", prog);
    if (cand && access(cand, X_OK) == 0)
      return cand;
    free(cand);
    path += n + (path[n] == ':');
  }
  return NULL;
}
