/* nbdserve: serve an image over NBD with lib/nbd, for the shell tests that
 * use the qemu tools as client and oracle.
 *
 *   nbdserve [-f FORMAT] [--range BASE SIZE] IMG SOCKET
 *
 * Opens IMG with the engine (with --range: the bytes [BASE, BASE+SIZE) of
 * IMG, the way a disk inside an OVA is read in place), serves it on SOCKET,
 * prints the NBD URI on stdout, and stops cleanly on SIGTERM, SIGINT or
 * SIGHUP (exit 0; the socket is gone by then). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/file.h"
#include "image/image.h"
#include "nbd/nbd_server.h"

struct args {
  const char *format;
  bool range;
  uint64_t base, size;
  const char *image, *socket;
};

static int usage(void) {
  fprintf(stderr,
          "usage: nbdserve [-f FORMAT] [--range BASE SIZE] IMG SOCKET\n");
  return 2;
}

static bool parse_u64(const char *s, uint64_t *v) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 0);
  if (errno || end == s || *end || s[0] == '-')
    return false;
  *v = x;
  return true;
}

static int parse_args(int argc, char **argv, struct args *a) {
  static const struct option opts[] = {{"range", no_argument, NULL, 'r'},
                                       {"format", required_argument, NULL, 'f'},
                                       {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  int c;
  while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
    if (c == 'f')
      a->format = optarg;
    else if (c == 'r')
      a->range = true;
    else
      return -1;
  }
  char **pos = argv + optind;
  int npos = argc - optind;
  if (a->range) {
    if (npos != 4 || !parse_u64(pos[0], &a->base) ||
        !parse_u64(pos[1], &a->size))
      return -1;
    pos += 2;
    npos -= 2;
  }
  if (npos != 2)
    return -1;
  a->image = pos[0];
  a->socket = pos[1];
  return 0;
}

static h2k_image *open_image(const struct args *a, h2k_error *err) {
  if (!a->range)
    return h2k_image_open(a->image, a->format, err);
  h2k_file *f = h2k_file_open_range(a->image, a->base, a->size, err);
  if (!f)
    return NULL;
  h2k_image *img = h2k_image_open_file(f, a->format, err);
  h2k_file_close(f); /* the image holds its own reference */
  return img;
}

int main(int argc, char **argv) {
  struct args a;
  if (parse_args(argc, argv, &a) != 0)
    return usage();

  /* Block the stop signals before any thread starts; sigwait takes them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  h2k_error err = {0};
  h2k_image *img = open_image(&a, &err);
  if (!img) {
    fprintf(stderr, "nbdserve: %s\n", h2k_error_text(&err));
    return err.code ? err.code : 1;
  }
  h2k_nbd_server *srv = h2k_nbd_serve(img, a.socket, &err);
  if (!srv) {
    fprintf(stderr, "nbdserve: %s\n", h2k_error_text(&err));
    h2k_image_close(img);
    return err.code ? err.code : 1;
  }
  printf("%s\n", h2k_nbd_uri(srv));
  fflush(stdout);

  int sig;
  sigwait(&stop_signals, &sig);
  h2k_nbd_stop(srv);
  h2k_image_close(img);
  return 0;
}
