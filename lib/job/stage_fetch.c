/* FETCH: find the source's disks and description, open every disk chain
 * read-only, fingerprint the inputs, and check free space before any heavy
 * work. Local inputs are never copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "job/job.h"
#include "vm/ova.h"
#include "vm/ovf.h"
#include "vm/vmx.h"

/* Where compressed members are unpacked: the job's private tmp directory
 * (none in --dry-run, which writes nothing). */
static char *unpack_dir(const h2k_job *job) {
  return job->dry_run ? NULL : h2k_path_join(job->job_dir, "tmp");
}

/* vhd, raw, ami, local: one disk image, or a tarball holding one. */
static int describe_single_disk(h2k_job *job, h2k_error *err) {
  char *dir = unpack_dir(job);
  job->vm = h2k_tarball_open(job->input, dir, err);
  free(dir);
  if (!job->vm)
    return -1;
  if (!job->vm->name)
    job->vm->name = strdup(job->vm_name);
  if (job->vm->n_disks && !job->vm->disks[0].boot_order)
    job->vm->disks[0].boot_order = 1;
  return 0;
}

/* ova: a tar (or its extracted directory) read in place. */
static int describe_ova(h2k_job *job, h2k_error *err) {
  char *dir = unpack_dir(job);
  h2k_ova_opts o = {
      .vm_name = h2k_cfg_str(job->cfg, H2K_OPT_VM_NAME),
      .unpack_dir = dir,
      .verify_manifest = h2k_cfg_bool(job->cfg, H2K_OPT_VERIFY_MANIFEST),
  };
  job->vm = h2k_ova_open(job->input, &o, err);
  free(dir);
  return job->vm ? 0 : -1;
}

/* Disks an OVF describes but that need unpacking first (chunked or gzip
 * files) are refused until OVA support reads them as streams. */
static int check_plain_disks(const h2k_vm *vm, const char *input,
                             h2k_error *err) {
  for (size_t i = 0; i < vm->n_disks; i++) {
    const h2k_vm_disk *d = &vm->disks[i];
    if (!d->path) {
      h2k_err_set(err, H2K_E_INPUT, "disk %zu of '%s' has no file", i, input);
      return -1;
    }
    if (d->n_chunks || d->gzip) {
      h2k_err_set(err, H2K_E_NOTIMPL,
                  "disk %zu of '%s' is %s; reading such disks is not "
                  "implemented yet",
                  i, input, d->gzip ? "gzip-compressed" : "split in chunks");
      return -1;
    }
  }
  return 0;
}

/* vmx, ovf: a description naming the disks beside it. */
static int describe_from_descriptor(h2k_job *job, h2k_error *err) {
  bool vmx = !strcmp(job->command, "vmx");
  if (!strcmp(job->command, "ova"))
    describe_ova(job, err);
  else if (vmx)
    job->vm = h2k_vmx_parse_file(job->input, err);
  else
    job->vm = h2k_ovf_parse_file(job->input,
                                 h2k_cfg_str(job->cfg, H2K_OPT_VM_NAME), err);
  if (!job->vm)
    return -1;
  for (size_t i = 0; i < job->vm->n_warnings; i++)
    h2k_job_warn(job, "%s", job->vm->warnings[i]);
  if (strcmp(job->command, "ova") != 0 &&
      check_plain_disks(job->vm, job->input, err) < 0)
    return -1;
  /* The source's own name names the VM unless --vm-name says otherwise. */
  if (!h2k_cfg_str(job->cfg, H2K_OPT_VM_NAME) && job->vm->name &&
      job->vm->name[0]) {
    char *name = h2k_safe_name(job->vm->name);
    if (name) {
      free(job->vm_name);
      job->vm_name = name;
    }
  }
  for (size_t i = 0; i < job->vm->n_disks && !job->vm->disks[i].range_length;
       i++)
    if (h2k_is_job_file(job, job->vm->disks[i].path))
      continue;
    else if (h2k_job_add_input(job, job->vm->disks[i].path, err) < 0) {
      h2k_err_wrap(err, "disk %zu named by '%s'", i, job->input);
      return -1;
    }
  return 0;
}

static int describe_source(h2k_job *job, h2k_error *err) {
  const char *c = job->command;
  if (!strcmp(c, "local") || !strcmp(c, "vhd") || !strcmp(c, "raw") ||
      !strcmp(c, "ami") || !strcmp(c, "inspect"))
    return describe_single_disk(job, err);
  if (!strcmp(c, "vmx") || !strcmp(c, "ovf") || !strcmp(c, "ova"))
    return describe_from_descriptor(job, err);
  h2k_err_set(err, H2K_E_NOTIMPL,
              "reading '%s' sources is not implemented yet in hyper2kvm %s", c,
              H2K_VERSION_STRING);
  h2k_err_hint(err, "extract the archive and use 'hyper2kvm ovf FILE.ovf', "
                    "or convert a disk with 'hyper2kvm local DISK'");
  return -1;
}

/* Fingerprint every file of the chain so --resume notices changes. */
static int fingerprint_chain(h2k_job *job, const h2k_image *img,
                             h2k_error *err) {
  for (const h2k_image *l = img; l; l = h2k_image_backing(l))
    if (!h2k_is_job_file(job, h2k_image_path(l)) &&
        h2k_job_add_input(job, h2k_image_path(l), err) < 0)
      return -1;
  return 0;
}

/* A disk inside an archive is a byte range of it, read in place. */
static h2k_image *open_source_image(const h2k_vm_disk *vd, h2k_error *err) {
  if (!vd->range_length)
    return h2k_image_open(vd->path, vd->format, err);
  h2k_file *f =
      h2k_file_open_range(vd->path, vd->range_offset, vd->range_length, err);
  if (!f)
    return NULL;
  h2k_image *img = h2k_image_open_file(f, vd->format, err);
  h2k_file_close(f); /* the image holds its own reference */
  return img;
}

static int open_disk(h2k_job *job, size_t i, h2k_error *err) {
  h2k_disk_job *dj = &job->disks[i];
  const h2k_vm_disk *vd = &job->vm->disks[i];
  dj->index = i;
  dj->src = vd;
  dj->image = open_source_image(vd, err);
  if (!dj->image) {
    h2k_err_wrap(err, "cannot open disk %zu of VM '%s'", i, job->vm_name);
    return -1;
  }
  dj->format = strdup(h2k_image_format(dj->image));
  dj->virtual_size = h2k_image_virtual_size(dj->image);
  if (!strcmp(dj->format, "raw") && dj->virtual_size % 512 != 0) {
    /* Nothing recognised it, and it cannot be a raw disk either. */
    h2k_err_set(err, H2K_E_INPUT,
                "'%s' is not a disk image: no known format matches it, and "
                "its size (%llu bytes) is not a multiple of 512 as a raw "
                "disk's would be",
                vd->path, (unsigned long long)dj->virtual_size);
    return -1;
  }
  dj->chain_depth = 0;
  dj->allocated = 0;
  for (const h2k_image *l = dj->image; l; l = h2k_image_backing(l)) {
    dj->chain_depth++;
    dj->allocated += h2k_image_allocated_bytes(l);
  }
  const char *ext = !strcmp(h2k_cfg_str(job->cfg, H2K_OPT_OUT_FORMAT), "raw")
                        ? "raw"
                        : "qcow2";
  if (job->vm->n_disks == 1)
    dj->out_name = h2k_strdup_printf("%s.%s", job->vm_name, ext);
  else
    dj->out_name = h2k_strdup_printf("%s-disk%zu.%s", job->vm_name, i, ext);
  dj->out_final = h2k_path_join(job->out_dir, dj->out_name);
  char *hidden = h2k_strdup_printf(".%s.partial", dj->out_name);
  dj->out_partial = h2k_path_join(job->out_dir, hidden);
  free(hidden);
  char sz[32];
  h2k_info("disk %zu: %s (%s%s%s, %s virtual, %zu layer%s)", i, vd->path,
           dj->format, dj->image->subformat ? " " : "",
           dj->image->subformat ? dj->image->subformat : "",
           h2k_format_bytes(dj->virtual_size, sz, sizeof sz), dj->chain_depth,
           dj->chain_depth == 1 ? "" : "s");
  return fingerprint_chain(job, dj->image, err);
}

int h2k_stage_fetch(h2k_job *job, h2k_error *err) {
  if (h2k_job_add_input(job, job->input, err) < 0)
    return -1;
  if (describe_source(job, err) < 0)
    return -1;
  const char *out_root = h2k_cfg_str(job->cfg, H2K_OPT_OUTPUT_DIR);
  char *out = h2k_expand_home(out_root);
  char *abs = h2k_path_absolute(out);
  free(out);
  job->out_dir = h2k_path_join(abs, job->vm_name);
  free(abs);
  if (job->vm->n_disks == 0) {
    h2k_err_set(err, H2K_E_INPUT, "the source '%s' describes no disks",
                job->input);
    return -1;
  }
  job->disks = calloc(job->vm->n_disks, sizeof *job->disks);
  if (!job->disks) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  job->n_disks = job->vm->n_disks;
  for (size_t i = 0; i < job->n_disks; i++)
    if (open_disk(job, i, err) < 0)
      return -1;
  snprintf(job->stages[H2K_STAGE_FETCH].message,
           sizeof job->stages[H2K_STAGE_FETCH].message,
           "%zu disk(s) found; local input read in place (no copy)",
           job->n_disks);
  return h2k_job_check_space(job, err);
}
