/* Defining a converted VM in libvirt through its C API (when built with
 * libvirt; otherwise a clear "not built in" error). */
#include "vm/domain_xml.h"

#include "core/error.h"

#ifdef H2K_HAVE_LIBVIRT

#include <pthread.h>
#include <stdio.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* libvirt's default handler prints every error to stderr; ours are
 * reported through h2k_error instead, so silence the duplicate. */
static void quiet_error_handler(void *opaque, virErrorPtr e) {
  (void)opaque;
  (void)e;
}

static void install_quiet_handler(void) {
  virSetErrorFunc(NULL, quiet_error_handler);
}

/* libvirt's own text for the last failure becomes the cause. */
static void set_libvirt_cause(h2k_error *err) {
  const char *m = virGetLastErrorMessage();
  if (err)
    snprintf(err->cause, sizeof err->cause, "%s",
             m && *m ? m : "unknown libvirt error");
}

int h2k_libvirt_define(const char *uri, const char *xml, h2k_error *err) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  const char *shown = uri && *uri ? uri : "(libvirt default)";
  if (!xml || !*xml) {
    h2k_err_set(err, H2K_E_FAIL, "libvirt define at %s: no domain XML", shown);
    return -1;
  }
  pthread_once(&once, install_quiet_handler);
  /* NULL lets libvirt pick its default URI (LIBVIRT_DEFAULT_URI, ...). */
  virConnectPtr conn = virConnectOpen(uri && *uri ? uri : NULL);
  if (!conn) {
    h2k_err_set(err, H2K_E_ENV, "cannot connect to libvirt at %s", shown);
    set_libvirt_cause(err);
    h2k_err_hint(err, "check the URI and that libvirtd (or virtqemud) is "
                      "running and accessible to this user");
    return -1;
  }
  /* Ask libvirt to validate against its schema: the error then names the
   * offending element instead of failing later at start. */
  virDomainPtr dom =
      virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
  int rc = 0;
  if (!dom) {
    h2k_err_set(err, H2K_E_IO, "libvirt at %s refused to define the domain",
                shown);
    set_libvirt_cause(err);
    rc = -1;
  } else {
    virDomainFree(dom);
  }
  virConnectClose(conn);
  return rc;
}

#else

int h2k_libvirt_define(const char *uri, const char *xml, h2k_error *err) {
  (void)xml;
  h2k_err_set(err, H2K_E_NOTIMPL,
              "cannot define the domain at %s: this build has no libvirt "
              "support",
              uri && *uri ? uri : "(libvirt default)");
  h2k_err_hint(err, "install the libvirt development files (libvirt-dev) "
                    "and rebuild; meson enables it when it finds libvirt; "
                    "or define the written domain XML with 'virsh define'");
  return -1;
}

#endif
