# Short entry point: the seed lifting recipe on data/egoexo4d.
_base_ = ['./lifting/lifting_pose-transformer-d32l4_1xb64-30e_egoexo4d-gt2d.py']
