#!/usr/bin/env python3
"""Make tests/fixtures/fmri-nibabel/: a tiny BIDS derivatives fMRI dataset written by nibabel, and what nibabel reads
from it, so tests/host/test_fmri.c checks that brainsweep's reader (host/fmri.h, through nifticlib) sees the same
voxels, values, TR and affine as the reference Python reader does.

The fixtures are committed; the test only reads them. Run this again only when they change:

    pip install nibabel==5.4.2            # in a virtual environment outside the repository (numpy comes with it)
    python tests/golden/make_fmri_fixture.py

Two subjects, one run each, space T1w, chosen to cover what our own writer (host/niftiout.c) never makes:
  sub-01: NIfTI-1, uncompressed .nii, int16 data with scl_slope 0.5 and scl_inter 10, a qform only (oblique: a
          rotation about z), the TR in milliseconds (xyzt_units msec, pixdim[4] 1500); a .nii.gz mask (uint8)
  sub-02: NIfTI-2 .nii.gz, float32, an sform (code 4, MNI) that differs from its qform (code 1): the sform wins;
          a float32 mask holding 0.0 and 1.0
Each run has its sidecar with RepetitionTime 1.5. expected.json holds, per subject, nibabel's view: the grid, the
affine (img.affine: the sform when its code is set, else the qform), the xform code, the TR in seconds, the mask's
voxels in storage order (i fastest) and the scaled values of the run at those voxels, volume by volume.

And tests/fixtures/fmri-nibabel-surface/: one surface run (space fsaverage5) as GIfTI, in the two layouts readers
meet: the left hemisphere one float32 array per volume (gzip base64, TimeStep 1500 ms in each array's metadata,
AnatomicalStructurePrimary CortexLeft), the right one vertices x volumes int32 array (plain base64, no TimeStep),
with the sidecar (RepetitionTime 1.5) beside the left, and the surface's geometry (tpl-fsaverage5_hemi-{L,R}_
midthickness.surf.gii: the left a float32 row-major pointset with triangles, the right a float32 column-major
pointset in plain base64). Its expected.json holds nibabel's view: the vertex counts, the TR, volume by volume the left
hemisphere's values then the right's, and each vertex's coordinates (left, then right).

The other direction, by hand (needs h5py too; CI runs no Python): after a bids_fmri sweep and `brainsweep maps`,

    python tests/golden/make_fmri_fixture.py --check-maps RESULTS.h5 MAPS_DIR BOLD.nii.gz

loads every map with nibabel and checks its shape and affine against a source run's and its values against
/scores/r placed at /voxels/ijk (NaN elsewhere), then prints one line. And as a nilearn user opens them (needs
nilearn and matplotlib too):

    python tests/golden/make_fmri_fixture.py --check-maps-nilearn RESULTS.h5 MAPS_DIR BOLD.nii.gz PNG_DIR

loads every volumetric map with nilearn.image.load_img (its affine against the run's as nilearn reads it), takes the
values inside the sweep's voxels with a NiftiMasker and compares them with /scores/r, draws each subject's best-layer
map and first layer's r map with nilearn.plotting.plot_stat_map into PNG_DIR; for surface results, reads every GIfTI
map with nilearn.surface.load_surf_data and compares it with /scores/r, hemisphere by hemisphere. And as the
viewers read them (needs fslpy, the library FSLeyes loads images with, and Connectome Workbench's wb_command on the
PATH; Debian's connectome-workbench package):

    python tests/golden/make_fmri_fixture.py --check-maps-viewers MAPS_DIR

reads every map with fslpy (fsl.data.image.Image; GIfTI with fsl.data.gifti) and compares its values and affine
with nibabel's; has wb_command describe each map (-file-information) and copy it (-volume-math or -metric-math
"x"), and compares the copy's values with the map's, which shows Workbench read every value.
"""
import json
import os
import sys

import nibabel as nib
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fmri-nibabel")
SHAPE = (3, 4, 2)
NT = 5


def stem(sub):
    d = os.path.join(OUT, sub, "func")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"{sub}_task-t_run-1_space-T1w")


def sidecar(s):
    with open(s + "_desc-preproc_bold.json", "w") as f:
        json.dump({"RepetitionTime": 1.5, "TaskName": "t"}, f)
        f.write("\n")


def expected(bold_path, mask_path):
    img, msk = nib.load(bold_path), nib.load(mask_path)
    data = img.get_fdata(dtype=np.float64)  # scl_slope and scl_inter applied
    m = np.asarray(msk.dataobj) > 0
    ijk = [(int(i), int(j), int(k)) for k in range(SHAPE[2]) for j in range(SHAPE[1]) for i in range(SHAPE[0])
           if m[i, j, k]]
    hdr = img.header
    code = int(hdr["sform_code"]) if int(hdr["sform_code"]) > 0 else int(hdr["qform_code"])
    units = hdr.get_xyzt_units()[1]
    tr = float(hdr.get_zooms()[3]) / (1000.0 if units == "msec" else 1.0)
    return {"dims": list(SHAPE), "volumes": NT, "affine": img.affine.tolist(), "affine_code": code, "tr": tr,
            "ijk": ijk, "values": [[float(data[i, j, k, t]) for (i, j, k) in ijk] for t in range(NT)]}


def main():
    rng = np.random.default_rng(20)
    out = {}

    # sub-01: NIfTI-1, int16 scaled, qform only, TR in ms
    s = stem("sub-01")
    raw = rng.integers(-2000, 2000, size=SHAPE + (NT,)).astype(np.int16)
    c, n = np.cos(0.3), np.sin(0.3)
    aff = np.array([[2 * c, -2 * n, 0, -3.0], [2 * n, 2 * c, 0, 4.5], [0, 0, 2.5, -1.0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(raw, None)
    img.set_qform(aff, code=1)
    img.set_sform(None, code=0)
    img.header.set_data_dtype(np.int16)
    img.header.set_slope_inter(0.5, 10.0)
    img.header.set_xyzt_units(xyz="mm", t="msec")
    zooms = img.header.get_zooms()
    img.header.set_zooms(zooms[:3] + (1500.0,))
    # nibabel scales on write when the header has a slope: hand it the values the int16 codes stand for
    img = nib.Nifti1Image(raw.astype(np.float64) * 0.5 + 10.0, None, img.header)
    img.header.set_slope_inter(0.5, 10.0)
    nib.save(img, s + "_desc-preproc_bold.nii")
    mask = np.zeros(SHAPE, np.uint8)
    mask[1:, 1:3, :] = 1
    mask[0, 0, 0] = 1
    mimg = nib.Nifti1Image(mask, None)
    mimg.set_qform(aff, code=1)
    mimg.set_sform(None, code=0)
    nib.save(mimg, s + "_desc-brain_mask.nii.gz")
    sidecar(s)
    out["sub-01"] = expected(s + "_desc-preproc_bold.nii", s + "_desc-brain_mask.nii.gz")

    # sub-02: NIfTI-2, float32, sform (MNI) differing from the qform
    s = stem("sub-02")
    data = rng.normal(500, 20, size=SHAPE + (NT,)).astype(np.float32)
    saff = np.array([[-2.0, 0, 0, 10.0], [0, 2.0, 0, -8.0], [0, 0, 2.0, 3.0], [0, 0, 0, 1]])
    qaff = np.diag([2.0, 2.0, 2.0, 1.0])
    img = nib.Nifti2Image(data, None)
    img.set_sform(saff, code=4)
    img.set_qform(qaff, code=1)
    img.header.set_xyzt_units(xyz="mm", t="sec")
    img.header.set_zooms(img.header.get_zooms()[:3] + (1.5,))
    nib.save(img, s + "_desc-preproc_bold.nii.gz")
    mask = np.zeros(SHAPE, np.float32)
    mask[:, 2:, 1] = 1.0
    mimg = nib.Nifti2Image(mask, None)
    mimg.set_sform(saff, code=4)
    mimg.set_qform(qaff, code=1)
    nib.save(mimg, s + "_desc-brain_mask.nii.gz")
    sidecar(s)
    out["sub-02"] = expected(s + "_desc-preproc_bold.nii.gz", s + "_desc-brain_mask.nii.gz")

    out["nibabel"] = nib.__version__
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    surface(rng)


def surface(rng):
    from nibabel.gifti import GiftiDataArray, GiftiImage, GiftiMetaData

    root = os.path.join(OUT + "-surface")
    d = os.path.join(root, "sub-01", "func")
    os.makedirs(d, exist_ok=True)
    s = os.path.join(d, "sub-01_task-t_run-1_hemi-{}_space-fsaverage5_bold")
    left = rng.normal(800, 30, size=(5, NT)).astype(np.float32)
    right = rng.integers(-3000, 3000, size=(6, NT)).astype(np.int32)
    arrays = [GiftiDataArray(left[:, t], intent="NIFTI_INTENT_TIME_SERIES", datatype="NIFTI_TYPE_FLOAT32",
                             encoding="GZipBase64Binary", meta=GiftiMetaData({"TimeStep": "1500.000000"}))
              for t in range(NT)]
    nib.save(GiftiImage(darrays=arrays, meta=GiftiMetaData({"AnatomicalStructurePrimary": "CortexLeft"})),
             s.format("L") + ".func.gii")
    matrix = GiftiDataArray(right, intent="NIFTI_INTENT_TIME_SERIES", datatype="NIFTI_TYPE_INT32",
                            encoding="Base64Binary")
    nib.save(GiftiImage(darrays=[matrix]), s.format("R") + ".func.gii")
    with open(s.format("L") + ".json", "w") as f:
        json.dump({"RepetitionTime": 1.5, "TaskName": "t"}, f)
        f.write("\n")
    # the surface's geometry (fmri.surface_geometry), one file per hemisphere: the left a float32 pointset in row
    # major order with its triangles (gzip base64), the right a float32 pointset in column major order (plain base64)
    g = os.path.join(root, "tpl-fsaverage5_hemi-{}_midthickness.surf.gii")
    xyz_l = rng.normal(0, 40, size=(5, 3)).astype(np.float32)
    xyz_l[:, 0] = -np.abs(xyz_l[:, 0])
    tri = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]], dtype=np.int32)
    nib.save(GiftiImage(darrays=[GiftiDataArray(xyz_l, intent="NIFTI_INTENT_POINTSET", datatype="NIFTI_TYPE_FLOAT32",
                                                encoding="GZipBase64Binary"),
                                 GiftiDataArray(tri, intent="NIFTI_INTENT_TRIANGLE", datatype="NIFTI_TYPE_INT32",
                                                encoding="GZipBase64Binary")],
                        meta=GiftiMetaData({"AnatomicalStructurePrimary": "CortexLeft"})), g.format("L"))
    xyz_r = np.abs(rng.normal(0, 40, size=(6, 3))).astype(np.float32)
    nib.save(GiftiImage(darrays=[GiftiDataArray(xyz_r, intent="NIFTI_INTENT_POINTSET", datatype="NIFTI_TYPE_FLOAT32",
                                                encoding="Base64Binary", ordering="ColumnMajorOrder")]), g.format("R"))
    # nibabel's view, read back from the files
    gl, gr = nib.load(s.format("L") + ".func.gii"), nib.load(s.format("R") + ".func.gii")
    coordinates = [[float(c) for c in row] for h in "LR" for row in nib.load(g.format(h)).agg_data("pointset")]
    lv = np.column_stack([a.data for a in gl.darrays]).astype(np.float64)
    rv = np.asarray(gr.darrays[0].data, dtype=np.float64)
    out = {"vertices": [int(lv.shape[0]), int(rv.shape[0])],
           "tr": float(gl.darrays[0].meta["TimeStep"]) / 1000.0,
           "values": [[float(x) for x in np.concatenate([lv[:, t], rv[:, t]])] for t in range(NT)],
           "coordinates": coordinates,
           "nibabel": nib.__version__}
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def check_maps(results, maps_dir, bold):
    import h5py

    src = nib.load(bold)
    n = 0
    with h5py.File(results) as f:
        models, contexts = f["models/name"].asstr()[:], f["contexts/name"].asstr()[:]
        subjects, n_layers = f["subjects/name"].asstr()[:], f["models/n_layers"][:]
        for m, model in enumerate(models):
            for c, context in enumerate(contexts):
                folder = os.path.join(maps_dir, model, "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in context))
                for s, sub in enumerate(subjects):
                    ijk = f["voxels/ijk"][s]
                    keep = ijk[:, 0] >= 0
                    for h in range(n_layers[m] + 1):
                        img = nib.load(os.path.join(folder, f"{sub}_layer-{h:0{3 if n_layers[m] >= 100 else 2}d}_r.nii.gz"))
                        assert img.shape == src.shape[:3] and np.allclose(img.affine, src.affine, atol=1e-5), img
                        vol = np.full(f["voxels/dims"][s], np.nan, np.float32)
                        vol[tuple(ijk[keep].T)] = f["scores/r"][m, c, h, s][keep]
                        got = np.asarray(img.dataobj, dtype=np.float32)
                        assert np.array_equal(np.isnan(vol), np.isnan(got)) and np.array_equal(vol[keep_mask(vol)],
                                                                                               got[keep_mask(vol)])
                        n += 1
    print(f"{n} maps: shape, affine and values as nibabel reads them equal the results file and the source run")


def check_maps_nilearn(results, maps_dir, bold, png_dir):
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    from nilearn import image, maskers, plotting, surface

    os.makedirs(png_dir, exist_ok=True)
    n = drawn = 0
    with h5py.File(results) as f:
        models, contexts = f["models/name"].asstr()[:], f["contexts/name"].asstr()[:]
        subjects, n_layers = f["subjects/name"].asstr()[:], f["models/n_layers"][:]
        geometry = f["voxels"].attrs.get("geometry", b"volume")
        on_surface = (geometry.decode() if isinstance(geometry, bytes) else str(geometry)) == "surface"
        src = None if on_surface else image.load_img(bold)
        for m, model in enumerate(models):
            for c, context in enumerate(contexts):
                folder = os.path.join(maps_dir, model, "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in context))
                width = 3 if n_layers[m] >= 100 else 2
                for s, sub in enumerate(subjects):
                    r = f["scores/r"][m, c, :, s]
                    if on_surface:  # columns: every left vertex, then every right vertex
                        left = None
                        for h in range(n_layers[m] + 1):
                            got = [surface.load_surf_data(os.path.join(folder, f"{sub}_hemi-{hemi}_layer-{h:0{width}d}_r.func.gii"))
                                   for hemi in "LR"]
                            left = len(got[0])
                            assert np.array_equal(np.concatenate(got).astype(np.float32), r[h, : left + len(got[1])])
                            n += 2
                        continue
                    ijk = f["voxels/ijk"][s]
                    keep = ijk[:, 0] >= 0
                    inside = np.zeros(f["voxels/dims"][s], np.int8)
                    inside[tuple(ijk[keep].T)] = 1
                    masker = maskers.NiftiMasker(image.new_img_like(src, inside, affine=src.affine)).fit()
                    order = np.ravel_multi_index(tuple(ijk[keep].T), inside.shape)  # the masker's order: C order
                    for h in range(n_layers[m] + 1):
                        path = os.path.join(folder, f"{sub}_layer-{h:0{width}d}_r.nii.gz")
                        img = image.load_img(path)
                        assert img.shape == src.shape[:3] and np.allclose(img.affine, src.affine, atol=1e-5), path
                        want = r[h][keep][np.argsort(order)]
                        got = np.asarray(masker.transform(img), dtype=np.float32).ravel()  # 3D in: one sample
                        assert np.array_equal(got, want), path
                        n += 1
                        if h == 0:
                            plotting.plot_stat_map(img, output_file=os.path.join(png_dir, f"{model}_{sub}_layer-0_r.png"))
                            drawn += 1
                    best = image.load_img(os.path.join(folder, f"{sub}_bestlayer.nii.gz"))
                    plotting.plot_stat_map(best, output_file=os.path.join(png_dir, f"{model}_{sub}_bestlayer.png"))
                    drawn += 1
    print(f"{n} maps: nilearn {__import__('nilearn').__version__} reads them with the source's affine and the results' "
          f"values; {drawn} drawn by plot_stat_map into {png_dir}")


def check_maps_viewers(maps_dir):
    import shutil
    import subprocess
    import tempfile

    import fsl.data.gifti as fsl_gifti
    import fsl.data.image as fsl_image
    import fsl.version

    wb = shutil.which("wb_command")
    assert wb, "wb_command is not on the PATH (Debian: apt install connectome-workbench)"
    paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(maps_dir) for f in fs if f.endswith((".nii.gz", ".gii")))
    assert paths, f"no maps under {maps_dir}"
    tmp = tempfile.mkdtemp()
    for path in paths:
        ref = nib.load(path)
        if path.endswith(".nii.gz"):
            want = np.asarray(ref.dataobj, dtype=np.float32)
            seen = fsl_image.Image(path)
            assert np.array_equal(np.isnan(seen.data), np.isnan(want)) and np.array_equal(
                np.nan_to_num(seen.data), np.nan_to_num(want)), path
            assert np.allclose(seen.voxToWorldMat, ref.affine, atol=1e-5), path
            info = subprocess.run([wb, "-file-information", path], capture_output=True, text=True, check=True).stdout
            assert "Type:                     Volume" in info and "NIFTI_TYPE_FLOAT32" in info, info
            copy = os.path.join(tmp, "copy.nii.gz")
            subprocess.run([wb, "-volume-math", "x", copy, "-var", "x", path], capture_output=True, check=True)
        else:
            want = np.concatenate([np.asarray(a.data, dtype=np.float32).ravel() for a in ref.darrays])
            got = np.asarray(fsl_gifti.loadGiftiVertexData(path)[1], dtype=np.float32).ravel()
            assert np.array_equal(np.nan_to_num(got), np.nan_to_num(want)), path
            info = subprocess.run([wb, "-file-information", path], capture_output=True, text=True, check=True).stdout
            hemi = "CortexLeft" if "_hemi-L_" in os.path.basename(path) else "CortexRight"
            assert "Type:                     Metric" in info and f"Structure:                {hemi}" in info, info
            copy = os.path.join(tmp, "copy.func.gii")
            subprocess.run([wb, "-metric-math", "x", copy, "-var", "x", path], capture_output=True, check=True)
        back = nib.load(copy)
        got = (np.asarray(back.dataobj, dtype=np.float32) if copy.endswith(".nii.gz")
               else np.concatenate([np.asarray(a.data, dtype=np.float32).ravel() for a in back.darrays]))
        assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True), path
    shutil.rmtree(tmp)
    version = subprocess.run([wb, "-version"], capture_output=True, text=True).stdout.split("\n")
    print(f"{len(paths)} maps: fslpy {fsl.version.__version__} reads the values and affines nibabel reads; "
          f"Connectome Workbench's wb_command ({next((l.strip() for l in version if 'Version' in l), '?')}) "
          f"describes each and copies every value, NaN included")


def keep_mask(vol):
    return ~np.isnan(vol)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--check-maps":
        check_maps(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "--check-maps-nilearn":
        check_maps_nilearn(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "--check-maps-viewers":
        check_maps_viewers(sys.argv[2])
    else:
        main()
