#!/bin/bash
# vmx and ovf inputs: a two-disk VM, disks converted in parallel, the VM
# named by its description.
H2K=$1
. "$(dirname "$0")/lib.sh"

mkdir vm
for i in 0 1; do
  qemu-img create -q -f raw d$i.raw 40M
  qemu-io -f raw -c "write -P 0x4$i 2M 3M" d$i.raw >/dev/null
  qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse d$i.raw vm/web-$i.vmdk
done
cat > vm/web.vmx <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "Web Server 01"
memsize = "4096"
numvcpus = "2"
firmware = "efi"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "web-0.vmdk"
scsi0:1.present = "TRUE"
scsi0:1.fileName = "web-1.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:50:56:AB:CD:EF"
ethernet0.networkName = "VM Network"
guestOS = "debian12-64"
VMX
run "$H2K" vmx vm/web.vmx -o out --workers 2 --json --network-map "VM Network:isolated" \
  --libvirt-define --libvirt-uri test:///default
expect_rc 0 "vmx"
expect_err "defined domain 'Web_Server_01' in test:///default" "libvirt define"
o="out/Web_Server_01"
for i in 0 1; do
  qemu-img compare -q d$i.raw "$o/Web_Server_01-disk$i.qcow2" || fail "disk $i differs"
done
python3 - "$o/metadata.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
vm = m["vm"]
assert vm["name"] == "Web Server 01", vm
assert vm["firmware"] == "uefi" and vm["vcpus"] == 2 and vm["memory_mb"] == 4096, vm
assert vm["nics"][0]["mac"] == "00:50:56:ab:cd:ef", vm["nics"]
assert [d["output"] for d in m["disks"]] == ["Web_Server_01-disk0.qcow2", "Web_Server_01-disk1.qcow2"]
assert m["source"]["kind"] == "vmx"
PY
python3 "$(dirname "$0")/validate_metadata.py" "$(dirname "$0")/../../docs/metadata.schema.json" "$o/metadata.json" ||
  fail "vmx metadata.json does not match the schema"
virt-xml-validate "$o/domain.xml" domain >/dev/null || fail "domain.xml invalid"
python3 - "$o/domain.xml" "$T" <<'PY'
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.argv[1]).getroot()
assert d.find("name").text == "Web_Server_01"
assert d.find("vcpu").text == "2" and d.find("memory").text == str(4096 * 1024)
assert d.find("os").get("firmware") == "efi"
disks = d.findall("devices/disk")
assert [x.find("source").get("file") for x in disks] == [
    sys.argv[2] + "/out/Web_Server_01/Web_Server_01-disk%d.qcow2" % i for i in (0, 1)]
assert [x.find("target").get("bus") for x in disks] == ["virtio", "virtio"]
nic = d.find("devices/interface")
assert nic.find("mac").get("address") == "00:50:56:ab:cd:ef"
assert nic.find("model").get("type") == "virtio"
assert nic.get("type") == "network" and nic.find("source").get("network") == "isolated"
PY
pass "domain.xml: valid, disks on virtio, MAC kept, network mapped, defined in libvirt"
run "$H2K" vmx vm/web.vmx -o out2 --libvirt-define --libvirt-uri bogus:///nowhere
[ "$RC" -ne 0 ] || fail "bad libvirt URI accepted"
expect_err "cannot define domain" "bad uri"
pass "vmx: two disks, named by displayName, model in metadata.json"

# The same VM as OVF (disks beside the descriptor).
cat > vm/web.ovf <<'OVF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>
    <File ovf:id="f0" ovf:href="web-0.vmdk"/>
    <File ovf:id="f1" ovf:href="web-1.vmdk"/>
  </References>
  <DiskSection>
    <Info>disks</Info>
    <Disk ovf:diskId="d0" ovf:fileRef="f0" ovf:capacity="40" ovf:capacityAllocationUnits="byte * 2^20"/>
    <Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="40" ovf:capacityAllocationUnits="byte * 2^20"/>
  </DiskSection>
  <VirtualSystem ovf:id="ovfweb">
    <Info>vm</Info>
    <Name>ovfweb</Name>
    <VirtualHardwareSection>
      <Info>hw</Info>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:VirtualQuantity>2048</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType></Item>
      <Item><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:Parent>3</rasd:Parent><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/d0</rasd:HostResource></Item>
      <Item><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:Parent>3</rasd:Parent><rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
OVF
run "$H2K" ovf vm/web.ovf -o out --no-parallel-processing
expect_rc 0 "ovf"
for i in 0 1; do
  qemu-img compare -q d$i.raw "out/ovfweb/ovfweb-disk$i.qcow2" || fail "ovf disk $i differs"
done
pass "ovf: two disks beside the descriptor (sequential)"

# The same VM as an OVA: read in place, manifest verified.
python3 - "$T" <<'PY'
import hashlib, os, sys, tarfile
t = sys.argv[1]
names = ["web.ovf", "web-0.vmdk", "web-1.vmdk"]
mf = "".join("SHA256(%s)= %s\n" % (n, hashlib.sha256(open(os.path.join(t, "vm", n), "rb").read()).hexdigest()) for n in names)
open(os.path.join(t, "vm", "web.mf"), "w").write(mf)
flip = "0" if mf[-2] != "0" else "1"
tampered = mf[:-2] + flip + "\n"   # last hex digit of the last digest
for out, manifest in (("web.ova", mf), ("tampered.ova", tampered)):
    open(os.path.join(t, "vm", "web.mf"), "w").write(manifest)
    with tarfile.open(os.path.join(t, out), "w", format=tarfile.USTAR_FORMAT) as tf:
        for n in names + ["web.mf"]:
            tf.add(os.path.join(t, "vm", n), arcname=n)
PY
sha_ova=$(sha256sum web.ova)
run "$H2K" ova web.ova -o ovaout
expect_rc 0 "ova"
for i in 0 1; do
  qemu-img compare -q d$i.raw "ovaout/ovfweb/ovfweb-disk$i.qcow2" || fail "ova disk $i differs"
done
[ "$sha_ova" = "$(sha256sum web.ova)" ] || fail "ova modified"
conv="$HOME/.cache/hyper2kvm/conversions"
[ -z "$(find "$conv" -name '*.vmdk' 2>/dev/null)" ] || fail "ova disks were extracted"
virt-xml-validate ovaout/ovfweb/domain.xml domain >/dev/null || fail "ova domain.xml"
python3 "$(dirname "$0")/validate_metadata.py" "$(dirname "$0")/../../docs/metadata.schema.json" ovaout/ovfweb/metadata.json >/dev/null ||
  fail "ova metadata schema"
python3 -c "import json;m=json.load(open('ovaout/ovfweb/metadata.json'));assert m['source']['manifest']=='verified',m['source']"
pass "ova: disks read in place from the tar, manifest verified, nothing extracted"

run "$H2K" ova tampered.ova -o tout
expect_rc 3 "tampered manifest"
expect_err "web-1.vmdk" "names the member"
expect_err "manifest" "says it is the manifest"
[ ! -e tout/ovfweb/ovfweb-disk0.qcow2 ] || fail "output despite bad manifest"
run "$H2K" ova tampered.ova -o tout --no-verify-manifest
expect_rc 0 "--no-verify-manifest"
expect_err "warning" "skipping verification warns"
pass "ova: manifest mismatch is a hard error; --no-verify-manifest overrides with a warning"

touch empty.ova
run "$H2K" ova empty.ova -o out
expect_rc 3 "empty ova"
pass "an empty .ova is a clear input error"
