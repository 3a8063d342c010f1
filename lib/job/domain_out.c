/* domain.xml next to the converted disks, and the optional libvirt define.
 * Runs after the disks have their final names. */
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "job/job.h"
#include "vm/domain_xml.h"

static void fill_domain_opts(const h2k_job *job, h2k_domain_disk *disks,
                             h2k_domain_opts *o) {
  const h2k_config *cfg = job->cfg;
  for (size_t i = 0; i < job->n_disks; i++) {
    disks[i].path = job->disks[i].out_final;
    disks[i].format = h2k_cfg_str(cfg, H2K_OPT_OUT_FORMAT);
  }
  const h2k_value *map = &cfg->v[H2K_OPT_NETWORK_MAP];
  memset(o, 0, sizeof *o);
  o->disks = disks;
  o->n_disks = job->n_disks;
  o->disk_bus = "virtio";
  o->network = h2k_cfg_str(cfg, H2K_OPT_NETWORK);
  o->bridge = h2k_cfg_str(cfg, H2K_OPT_BRIDGE);
  o->network_map = (const char *const *)map->list;
  o->n_network_map = map->n_list;
  long long mem = h2k_cfg_int(cfg, H2K_OPT_VM_MEMORY);
  long long cpus = h2k_cfg_int(cfg, H2K_OPT_VM_VCPUS);
  o->memory_mb_default = mem > 0 ? (uint64_t)mem : 2048;
  o->vcpus_default = cpus > 0 ? (int)cpus : 2;
  o->uefi_default = h2k_cfg_bool(cfg, H2K_OPT_VM_UEFI);
}

int h2k_job_write_domain(h2k_job *job, h2k_error *err) {
  if (!h2k_cfg_bool(job->cfg, H2K_OPT_EMIT_DOMAIN_XML) &&
      !h2k_cfg_bool(job->cfg, H2K_OPT_LIBVIRT_IMPORT))
    return 0;
  h2k_domain_disk *disks =
      calloc(job->n_disks ? job->n_disks : 1, sizeof *disks);
  if (!disks) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  h2k_domain_opts o;
  fill_domain_opts(job, disks, &o);
  /* Name the domain like the output directory (the job's safe name). */
  o.name = job->vm_name;
  char *xml = h2k_domain_xml(job->vm, &o, err);
  free(disks);
  if (!xml)
    return -1;
  int rc = 0;
  if (h2k_cfg_bool(job->cfg, H2K_OPT_EMIT_DOMAIN_XML)) {
    char *path = h2k_path_join(job->out_dir, "domain.xml");
    rc = h2k_write_file_atomic(path, xml, strlen(xml), 0644, err);
    free(path);
  }
  if (rc == 0 && h2k_cfg_bool(job->cfg, H2K_OPT_LIBVIRT_IMPORT)) {
    const char *uri = h2k_cfg_str(job->cfg, H2K_OPT_LIBVIRT_URI);
    rc = h2k_libvirt_define(uri, xml, err);
    if (rc == 0)
      h2k_info("defined domain '%s' in %s", job->vm_name, uri);
    else
      h2k_err_wrap(err, "cannot define domain '%s' in libvirt (%s)",
                   job->vm_name, uri);
  }
  free(xml);
  return rc;
}
