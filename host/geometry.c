#include "host/geometry.h"

#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/surface.h"

int geometry_load(const char *pattern, const char *subject, const FmriGrid *grid, double **xyz, char *err) {
    *xyz = NULL;
    if (!grid->surface)
        return base_errf(err, "%s (fmri.surface_geometry): the runs are volumes; a geometry places surface runs' vertices",
                         pattern);
    if (!strstr(pattern, "{hemi}"))
        return base_errf(err, "%s (fmri.surface_geometry): one geometry file per hemisphere: put {hemi} in the path "
                              "(read as L and R)",
                         pattern);
    static const char *const HEMI[2] = {"L", "R"}, *const SIDE[2] = {"left", "right"};
    static const char *const STRUCTURE[2] = {"CortexLeft", "CortexRight"};
    double *out = base_malloc(base_mul(fmri_grid_points(grid), 3) * sizeof(double), "vertex coordinates");
    int rc = 0;
    for (int h = 0; h < 2 && rc == 0; h++) {
        char path[4096];
        if (fmri_expand_path(pattern, subject, HEMI[h], path, sizeof path)) {
            rc = base_errf(err, "%s (fmri.surface_geometry): the path is too long", pattern);
            break;
        }
        SurfaceGeometry g;
        if (surface_read_geometry(path, &g, err)) {
            rc = -1;
            break;
        }
        if ((long long)g.n_vertices != (long long)grid->dim[h])
            rc = base_errf(err, "%s: %zu vertices, but the runs' %s hemisphere has %lld", path, g.n_vertices, SIDE[h],
                           (long long)grid->dim[h]);
        else if (g.structure[0] && strncmp(g.structure, STRUCTURE[h], strlen(STRUCTURE[h])) != 0)
            rc = base_errf(err, "%s: the geometry of %s, given for the %s hemisphere", path, g.structure, SIDE[h]);
        else
            memcpy(out + 3 * (h ? (size_t)grid->dim[0] : 0), g.xyz, g.n_vertices * 3 * sizeof(double));
        surface_geometry_free(&g);
    }
    if (rc) free(out);
    else *xyz = out;
    return rc;
}
