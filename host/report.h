/*
 * report: `brainsweep report RESULTS.h5 -o DIR` — draws a results file's /analysis group (written by
 * `brainsweep analyze`) as figures, with an index page holding the tables behind them (docs/report.md).
 *
 * For each figure DIR gets NAME.tsv (its data, a header line naming the columns), NAME.gp (a gnuplot
 * script that reads only that file and writes both NAME.png and NAME.svg: edit it and rerun
 * `gnuplot NAME.gp` in DIR to restyle) and the two images, drawn by running gnuplot on the script.
 * DIR/index.md lists the tables, embeds every figure and says which figures were skipped and why
 * (a figure that does not apply to the file: no electrodes, no benchmark scores, one context, one model).
 *
 * Serial HDF5, no MPI calls, the results file opened read-only. Nothing is written, and DIR is not
 * created, until the file has been read and checked and gnuplot found. Files in DIR are rewritten on
 * every run; the fixed-name outputs of figures skipped this time are removed so that no stale image
 * from an earlier run stays beside the new index.
 *
 * Returns the process exit code: 0; 1 (not a complete results file, no /analysis group, gnuplot
 * missing, DIR not writable, or a figure gnuplot failed to draw; one message each; gnuplot's own
 * messages are in DIR/gnuplot.log); 2 (usage).
 */
#ifndef HOST_REPORT_H
#define HOST_REPORT_H

int report_run(int argc, char **argv);

#endif  // HOST_REPORT_H
